#include "web/serve.h"

#include <unistd.h>

#include "ca/authorities.h"
#include "common/log.h"
#include "ra/request_builder.h"
#include "signer/name.h"
#include "store/cas.h"
#include "web/db_pool.h"

namespace certpress::web {

Status ParseListen(const std::string& listen, std::string* address, uint16_t* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return InvalidInput("web.listen: '" + listen + "' is not ADDRESS:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (!ra::IsIpAddress(host)) {
    return InvalidInput("web.listen: '" + host + "' is not an IP address");
  }
  const std::string p = listen.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    return InvalidInput("web.listen: '" + p + "' is not a port number");
  }
  *address = host;
  *port = static_cast<uint16_t>(std::stoul(p));
  return Status::Ok();
}

namespace {

// EnsureWebCa creates the web server's CA pair on first start when its profile names it.
Status EnsureWebCa(store::Connection& db, CryptoToken& token, const profiles::CardProfile& card,
                   const std::string& actor) {
  if (card.ca != kWebCaLabel) return Status::Ok();
  CP_ASSIGN_OR_RETURN(auto found, store::FindCa(db, kWebCaLabel));
  if (found) return Status::Ok();
  const std::string root_label = std::string(kWebCaLabel) + "-root";
  CP_ASSIGN_OR_RETURN(auto root, store::FindCa(db, root_label));
  if (!root) {
    ca::NewCa n;
    n.label = root_label;
    CP_ASSIGN_OR_RETURN(n.name, ParseName("CN=CertPress Web Root CA,O=CertPress"));
    n.key_type = KeyType::kEcP256;
    n.days = 3650;
    n.actor = actor;
    CP_RETURN_IF_ERROR(ca::CreateRoot(db, token, n).status().Wrap("creating " + root_label));
  }
  ca::NewCa n;
  n.label = kWebCaLabel;
  CP_ASSIGN_OR_RETURN(n.name, ParseName("CN=CertPress Web CA,O=CertPress"));
  n.key_type = KeyType::kEcP256;
  n.days = 1825;
  n.actor = actor;
  return ca::CreateSub(db, token, n, root_label, 0)
      .status()
      .Wrap("creating " + std::string(kWebCaLabel));
}

}  // namespace

Status Serve(store::Connection& db, store::DbConfig pool_config, CryptoToken& token,
             const profiles::ProfileSet& profiles, const std::string& kek_label, ServeOptions o,
             const std::function<void(const std::string& url)>& on_listening) {
  CP_RETURN_IF_ERROR(ParseListen(o.listen, &o.server.address, &o.server.port));
  if (o.tls.names.empty()) {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0' &&
        ra::CheckDnsName(host).ok()) {
      o.tls.names.push_back(host);
    } else {
      // RFC 9476's reserved .internal: a name for a host no public CA could vouch for.
      o.tls.names.push_back("certpress.internal");
    }
    if (o.server.address != "0.0.0.0" && o.server.address != "::") {
      o.tls.names.push_back(o.server.address);
    }
  }
  CP_ASSIGN_OR_RETURN(const profiles::CardProfile* card, profiles.Card(o.tls.profile));
  CP_RETURN_IF_ERROR(EnsureWebCa(db, token, *card, o.tls.actor));
  CP_ASSIGN_OR_RETURN(TlsIdentity identity, EnsureTlsIdentity(db, token, profiles, o.tls));
  const log::Logger logger = log::Get("web");
  logger.Info(identity.issued_now ? "issued the server's TLS certificate"
                                  : "using the server's TLS certificate",
              {{"serial", identity.serial_hex}});
  o.server.cert_chain_pem = identity.cert_chain_pem;
  o.server.key_pem = std::move(identity.key_pem);
  CP_ASSIGN_OR_RETURN(auto keys, kgs::ActivationKeys::Load(db, token, kek_label, true));

  DbPool pool(std::move(pool_config));
  Site site(pool, token, profiles, keys, o.site);
  CP_ASSIGN_OR_RETURN(
      auto server, Server::Start(o.server, [&site](const Request& r) { return site.Handle(r); }));
  o.server.key_pem.Clear();  // the TLS context holds its own copy
  const bool v6 = o.server.address.find(':') != std::string::npos;
  const std::string url = "https://" + (v6 ? "[" + o.server.address + "]" : o.server.address) +
                          ":" + std::to_string(server->port());
  logger.Info("listening", {{"url", url}});
  if (on_listening) on_listening(url);
  server->WaitForSignal();
  logger.Info("stopped");
  return Status::Ok();
}

}  // namespace certpress::web
