// `certpress serve`, `certpress invite` and `certpress invitation list`: the pickup server and
// invitations (web/). Options in, results out.
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "common/texts.h"
#include "store/invitations.h"
#include "web/invitations.h"
#include "web/serve.h"

namespace certpress::app {

namespace {

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

CommandResult Serve(Context& ctx) {
  web::ServeOptions o;
  o.listen = ctx.Get<std::string>("web.listen");
  o.server.io_threads = ctx.Get<int>("web.threads");
  o.server.worker_threads = ctx.Get<int>("web.threads");
  o.server.max_body_bytes = ctx.Get<size_t>("web.max-body");
  o.server.max_header_bytes = ctx.Get<size_t>("web.max-header");
  o.server.read_timeout = std::chrono::seconds(ctx.Get<int>("web.read-timeout"));
  o.site.rate_per_minute = ctx.Get<double>("web.rate-limit");
  o.site.rate_burst = ctx.Get<double>("web.rate-burst");
  o.site.post_per_minute = ctx.Get<double>("web.post-rate-limit");
  o.site.post_burst = ctx.Get<double>("web.post-burst");
  o.site.pkcs12_iterations = ctx.Get<int>("web.pkcs12-iterations");
  const std::string language = ctx.Get<std::string>("web.language");
  if (auto lang = ParseLang(language)) {
    o.site.lang = *lang;
  } else {
    return Usage("web.language: must be " + std::string(kLangChoices) + ", not '" + language + "'");
  }
  o.tls.dir = ctx.Get<std::string>("web.state-dir");
  o.tls.profile = ctx.Get<std::string>("web.tls-profile");
  o.tls.names = SplitComma(ctx.Get<std::string>("web.tls-names"));
  o.tls.actor = ctx.Actor();
  if (o.tls.dir.empty()) return Usage("web.state-dir is required (the server's key lives there)");
  if (o.site.pkcs12_iterations < 10000) return Usage("web.pkcs12-iterations: at least 10000");
  std::string address;
  uint16_t port = 0;
  if (Status st = web::ParseListen(o.listen, &address, &port); !st.ok()) {
    return Usage(st.message());
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto pool_config = ctx.DbSettings();
  if (!pool_config.ok()) return Fail(pool_config.status());
  Status st = web::Serve(**db, std::move(pool_config).value(), **token, **profiles, kKekLabel,
                         std::move(o), [&ctx](const std::string& url) {
                           ctx.out << "listening on " << url << "\n" << std::flush;
                         });
  return st.ok() ? Ok() : Fail(st);
}

CommandResult Invite(Context& ctx) {
  const std::string csv = ctx.Get<std::string>("csv");
  const std::string email = ctx.Get<std::string>("email");
  const std::string name = ctx.Get<std::string>("name");
  if (csv.empty() == (email.empty() && name.empty())) {
    return Usage("give either --email E --name N, or --csv FILE");
  }
  if (csv.empty() && (email.empty() || name.empty())) return Usage("give both --email and --name");
  const int days = ctx.Get<int>("days");
  if (days < 1 || days > 90) return Usage("--days must be between 1 and 90");
  std::vector<web::NewInvitation> who;
  size_t bad = 0;
  if (csv.empty()) {
    who.push_back({email, name});
  } else {
    auto read = web::ReadInviteesCsv(csv, [&](const std::string& m) {
      ++bad;
      std::cerr << m << "\n";
    });
    if (!read.ok()) return FailAbout(read.status(), csv);
    who = std::move(read).value();
  }
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(ctx.Get<std::string>("profile"));
  if (!profile.ok()) return Usage(profile.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  web::InviteOptions opt;
  opt.ca_label = ctx.Get<std::string>("ca");
  opt.validity_seconds = int64_t{days} * 86400;
  opt.actor = ctx.Actor();
  size_t queued = 0;
  for (const auto& w : who) {
    auto id = web::Invite(**db, **profile, w, opt);
    if (!id.ok()) {
      if (csv.empty())
        return id.status().kind() == ErrorKind::kInvalidInput ? Usage(id.status().message())
                                                              : Fail(id.status());
      ++bad;
      std::cerr << csv << ": " << w.email << ": " << id.status().message() << "\n";
      continue;
    }
    ++queued;
    ctx.out << "invitation " << *id << " for " << w.email << " queued\n";
  }
  if (!csv.empty()) {
    ctx.out << queued << " invitation(s) queued, " << bad << " refused\n";
    if (queued == 0 && bad > 0) return Fail(InvalidInput("no invitation queued"));
  }
  return Ok();
}

CommandResult ListInvitations(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto rows = store::ListInvitations(**db);
  if (!rows.ok()) return Fail(rows.status());
  auto state = [](const store::InvitationRow& r) {
    return (r.state == store::kInvSent && r.expired) ? std::string("expired") : r.state;
  };
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& r : *rows) {
      arr.push_back({{"id", r.id},
                     {"profile", r.profile},
                     {"email", r.email},
                     {"name", r.name},
                     {"state", state(r)},
                     {"request", r.request_id ? nlohmann::json(*r.request_id) : nlohmann::json()},
                     {"expires_at", r.expires_at}});
    }
    ctx.out << arr.dump(2) << "\n";
    return Ok();
  }
  for (const auto& r : *rows) {
    ctx.out << r.id << "  " << r.profile << "  " << r.email << "  " << state(r)
            << (r.request_id ? "  request " + std::to_string(*r.request_id) : "") << "\n";
  }
  return Ok();
}

}  // namespace

void AddWebCommands(std::vector<Command>& out) {
  out.push_back(
      {"serve", "the HTTPS server of the pickup and application pages, until SIGTERM", "",
       [](po::options_description& d, po::positional_options_description&) {
         d.add_options()("web.listen", po::value<std::string>()->default_value("127.0.0.1:8443"),
                         "ADDRESS:PORT to listen on")(
             "web.state-dir", po::value<std::string>()->default_value(""),
             "the server's directory: its TLS key (0600) and certificate")(
             "web.tls-profile", po::value<std::string>()->default_value("tls-server"),
             "card profile of the server's own certificate (token = \"csr\"); "
             "tls-server-internal for loopback and private names")(
             "web.tls-names", po::value<std::string>()->default_value(""),
             "names for the certificate, comma-separated, the first is the CN (default: the "
             "host name and the listen address)")(
             "web.threads", po::value<int>()->default_value(0),
             "I/O threads and worker threads each (0: one per core)")(
             "web.max-body", po::value<size_t>()->default_value(64 * 1024),
             "largest request body, bytes (413 beyond)")(
             "web.max-header", po::value<size_t>()->default_value(8 * 1024),
             "largest request header, bytes (431 beyond)")(
             "web.read-timeout", po::value<int>()->default_value(15),
             "seconds for a TLS handshake or a whole request")(
             "web.rate-limit", po::value<double>()->default_value(120),
             "requests per minute per client address")(
             "web.rate-burst", po::value<double>()->default_value(60),
             "requests a client address may make at once")(
             "web.post-rate-limit", po::value<double>()->default_value(12),
             "form submissions per minute per client address")(
             "web.post-burst", po::value<double>()->default_value(6),
             "form submissions a client address may make at once")(
             "web.pkcs12-iterations", po::value<int>()->default_value(600000),
             "PBKDF2-HMAC-SHA256 rounds of a picked-up PKCS#12")(
             "web.language", po::value<std::string>()->default_value("en"),
             "language (en, de, fr) of the pages not tied to a profile: the index, unknown and "
             "invalid links (a profile's pages speak its activation.language)");
       },
       Serve, log::Level::kInfo});
  out.push_back({"invite", "invite people by email to apply for a certificate of a profile", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("profile", po::value<std::string>()->required(), "card profile")(
                       "email", po::value<std::string>()->default_value(""), "address")(
                       "name", po::value<std::string>()->default_value(""), "full name")(
                       "csv", po::value<std::string>()->default_value(""),
                       "CSV with the columns email and name")(
                       "ca", po::value<std::string>()->default_value(""),
                       "issuing CA (default: the profile's)")(
                       "days", po::value<int>()->default_value(14),
                       "days the link stays valid after it is mailed");
                 },
                 Invite});
  out.push_back({"invitation list", "invitations and their state, never a link", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 ListInvitations});
}

}  // namespace certpress::app
