// serve.h: `certpress serve` below app/: the server's TLS identity (issued at first start), its
// pages, and the HTTPS server, wired together and run until SIGTERM.
#pragma once

#include <functional>
#include <string>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "signer/token.h"
#include "store/db.h"
#include "web/server.h"
#include "web/site.h"
#include "web/tls_identity.h"

namespace certpress::web {

struct ServeOptions {
  std::string listen = "127.0.0.1:8443";  // address:port ([v6]:port)
  ServerOptions server;                   // address, port and TLS material are filled in
  SiteOptions site;
  TlsIdentityOptions tls;  // names empty: the host name and the listen address
};

// ParseListen splits "127.0.0.1:8443" or "[::1]:8443".
[[nodiscard]] Status ParseListen(const std::string& listen, std::string* address, uint16_t* port);

// The CA of the web server's own certificate when its profile is tls-server-internal:
// created on first start (root certpress-web-root, issuing CA certpress-web, P-256).
inline constexpr const char* kWebCaLabel = "certpress-web";

// Serve runs the server until SIGINT or SIGTERM. |db| is the caller's connection (schema
// checked, audit keys loaded); |pool_config| opens the workers' connections. |on_listening|
// gets the URL once the port is bound.
[[nodiscard]] Status Serve(store::Connection& db, store::DbConfig pool_config, CryptoToken& token,
                           const profiles::ProfileSet& profiles, const std::string& kek_label,
                           ServeOptions options,
                           const std::function<void(const std::string& url)>& on_listening);

}  // namespace certpress::web
