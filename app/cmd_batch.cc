// Requests in (import, request submit), decisions (approve, reject), issuance (run-batch,
// scheduler) and `status`.
#include <atomic>
#include <csignal>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "app/commands.h"
#include "app/progress.h"
#include "batch/importer.h"
#include "batch/pipeline.h"
#include "batch/report.h"
#include "kgs/invitation_links.h"
#include "kgs/mailer.h"
#include "ra/decisions.h"
#include "ra/operators.h"
#include "ra/submit.h"
#include "scheduler/cron.h"
#include "scheduler/daemon.h"
#include "signer/operator_key.h"

namespace certpress::app {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) {
  g_stop.store(true);
}

// CaOption resolves --ca (or the profile's CA) to an active CA's id.
Result<int64_t> CaOption(Context& ctx, const profiles::CardProfile& profile) {
  CP_ASSIGN_OR_RETURN(store::Connection * db, ctx.Db());
  return ra::ResolveCa(*db, profile, ctx.vm().count("ca") ? ctx.Get<std::string>("ca") : "");
}

// OperatorKey opens --key (with --key-password-file); null when no --key was given.
Result<std::unique_ptr<StatementKey>> OperatorKey(Context& ctx) {
  const std::string key_spec = ctx.Get<std::string>("key");
  if (key_spec.empty()) return std::unique_ptr<StatementKey>();
  SecureString password;
  if (const std::string f = ctx.Get<std::string>("key-password-file"); !f.empty()) {
    auto pw = ReadSecretFile(f);
    if (!pw.ok()) return pw.status().Wrap("reading the key password");
    password = std::move(pw).value();
  }
  auto key = OpenStatementKey(key_spec, password, ctx.Get<std::string>("token.module"));
  if (!key.ok()) return key.status().Wrap("operator key");
  return key;
}

// Submitter is who submits |data| (named |what| in the signed submission) for |profile|
// (ra::ProveSubmitter): the actor, or the operator proven by --operator and --key where the
// profile keeps submitters from approving.
Result<std::string> Submitter(Context& ctx, const profiles::CardProfile& profile,
                              const std::string& what, std::string_view data,
                              std::string* signature_hex) {
  CP_ASSIGN_OR_RETURN(auto key, OperatorKey(ctx));
  CP_ASSIGN_OR_RETURN(store::Connection * db, ctx.Db());
  return ra::ProveSubmitter(*db, profile, ctx.Actor(), key.get(), what, data, signature_hex);
}

CommandResult Import(Context& ctx) {
  const std::string file = ctx.Get<std::string>("file");
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(ctx.Get<std::string>("profile"));
  if (!profile.ok()) return Usage(profile.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = CaOption(ctx, **profile);
  if (!ca.ok()) return Fail(ca.status());
  batch::ImportOptions opt;
  opt.ca_id = *ca;
  {
    auto data = ReadFile(file);
    if (!data.ok()) return Fail(data.status());
    auto submitter = Submitter(ctx, **profile, "file " + file, *data, &opt.submitter_signature);
    if (!submitter.ok()) return Fail(submitter.status());
    opt.operator_name = *submitter;
  }
  opt.dry_run = ctx.Flag("dry-run");
  size_t shown = 0;
  opt.on_error = [&](const std::string& m) {
    std::cerr << m << "\n";
    ++shown;
  };
  Progress progress("import", "rows");
  opt.on_progress = [&](size_t bytes, size_t total, size_t) {
    progress.Update(static_cast<int64_t>(bytes), static_cast<int64_t>(total), "bytes");
  };
  auto r = batch::ImportCsv(**db, **profile, file, opt);
  progress.Finish();
  if (!r.ok()) return Fail(r.status());
  ctx.out << (opt.dry_run ? "dry run: " : "") << file << ": " << r->rows << " rows, "
          << (opt.dry_run ? r->rows - r->bad : r->created) << (opt.dry_run ? " good" : " created")
          << ", " << r->existing << " already present, " << r->bad << " bad\n";
  // Bad rows do not stop the import; they make the command say so in its exit code.
  if (r->bad > 0) {
    return Fail(InvalidInput(std::to_string(r->bad) + " bad row(s) skipped (listed above)"));
  }
  return Ok();
}

CommandResult Submit(Context& ctx) {
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(ctx.Get<std::string>("profile"));
  if (!profile.ok()) return Usage(profile.status().message());
  ra::CsrSubmission sub;
  sub.source = ctx.Get<std::string>("csr");
  for (const auto& kv : ctx.vm().count("field") ? ctx.Get<std::vector<std::string>>("field")
                                                : std::vector<std::string>{}) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Usage("--field takes key=value, not '" + kv + "'");
    sub.fields[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  auto data = ReadFile(sub.source);
  if (!data.ok()) return Fail(data.status());
  sub.csr = std::move(data).value();
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = CaOption(ctx, **profile);
  if (!ca.ok()) return Fail(ca.status());
  sub.ca_id = *ca;
  std::string signature;
  auto submitter = Submitter(ctx, **profile, "csr " + sub.source, sub.csr, &signature);
  if (!submitter.ok()) return Fail(submitter.status());
  sub.actor = *submitter;
  auto r = ra::SubmitCsr(**db, **profiles, **profile, sub);
  if (!r.ok()) return Fail(r.status());
  ctx.out << "request " << r->id << " " << r->state << ": " << r->subject << "\n";
  return Ok();
}

// Decide applies approve or reject to --ids, or to every pending request of --profile with
// --all, as statements signed with the operator's --key (ra/decisions.h); --dry-run lists
// what would be signed.
CommandResult Decide(Context& ctx, bool approve) {
  ra::DecisionRequest req;
  req.approve = approve;
  req.op = ctx.Get<std::string>("operator");
  if (req.op.empty())
    return Usage("--operator NAME is required: every decision names its operator");
  if (auto canonical = ra::CanonicalOperatorName(req.op); !canonical.ok()) {
    return Usage(canonical.status().message());
  }
  req.dry_run = ctx.Flag("dry-run");
  const bool all = ctx.Flag("all");
  const std::string ids_text = ctx.Get<std::string>("ids");
  const std::string profile = ctx.Get<std::string>("profile");
  if (all == !ids_text.empty()) return Usage("give either --ids or --all --profile P");
  if (all && profile.empty()) return Usage("--all needs --profile P");
  if (!approve) {
    req.reason = ctx.Get<std::string>("reason");
    if (req.reason.empty() && !req.dry_run) return Usage("--reason is required");
  }
  if (all) {
    req.all_of_profile = profile;
  } else {
    auto parsed = ra::ParseIds(ids_text);
    if (!parsed.ok()) return Usage(parsed.status().message());
    req.ids = std::move(parsed).value();
  }
  std::unique_ptr<StatementKey> key;
  if (!req.dry_run) {
    if (ctx.Get<std::string>("key").empty()) {
      return Usage("--key FILE|PKCS11-URI is required: every decision is signed by its operator");
    }
    auto opened = OperatorKey(ctx);
    if (!opened.ok()) return Fail(opened.status());
    key = std::move(opened).value();
    req.key = key.get();
  }
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  req.profiles = *profiles;
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  Progress progress(approve ? "approve" : "reject", "requests");
  size_t shown = 0;
  auto tally = ra::Decide(**db, req, [&](const ra::DecisionTally& t) {
    for (; shown < t.refused.size(); ++shown) std::cerr << t.refused[shown] << "\n";
    progress.Update(t.approved + t.waiting + t.rejected + static_cast<int64_t>(t.refused.size()),
                    all ? 0 : static_cast<int64_t>(req.ids.size()));
  });
  progress.Finish();
  if (!tally.ok()) return Fail(tally.status());
  if (req.dry_run) {
    // What the operator would sign: every request with its profile, signing CA, subject and
    // SANs, and the hash that the signed statement will carry.
    for (const auto& l : tally->listed) {
      ctx.out << l.id << "\t" << l.profile << "\tca=" << l.ca << "\t" << l.subject << "\t"
              << l.sans_json << "\tsha256=" << l.content_hash << "\n";
    }
    ctx.out << tally->listed.size() << " request(s) would be "
            << (approve ? "approved" : "rejected") << " by " << *ra::CanonicalOperatorName(req.op)
            << "\n";
    return Ok();
  }
  if (approve) {
    ctx.out << tally->approved << " approved, " << tally->waiting
            << " waiting for another operator";
  } else {
    ctx.out << tally->rejected << " rejected";
  }
  ctx.out << ", " << tally->refused.size() << " refused\n";
  if (!tally->refused.empty()) {
    return Fail(
        Conflict(std::to_string(tally->refused.size()) + " decision(s) refused (listed above)"));
  }
  return Ok();
}

batch::BatchOptions BatchOptionsFrom(Context& ctx) {
  batch::BatchOptions o;
  o.threads = ctx.Get<int>("threads");
  o.chunk_size = ctx.Get<int>("chunk");
  o.tokens = ctx.Get<int>("tokens");
  o.lease_seconds = ctx.Get<int>("lease");
  o.actor = ctx.Actor();
  o.kek_label = kKekLabel;
  o.checkpoint_file = ctx.Get<std::string>("audit.checkpoint-file");
  o.checkpoint_every = ctx.Get<int>("audit.checkpoint-every");
  o.stop = &g_stop;
  return o;
}

CommandResult CheckBatchOptions(const batch::BatchOptions& o) {
  if (o.threads < 0 || o.threads > 256) return Usage("--threads must be between 0 and 256");
  if (o.chunk_size < 1 || o.chunk_size > 5000) return Usage("--chunk must be between 1 and 5000");
  if (o.tokens < 0 || o.tokens > 1024) return Usage("--tokens must be between 0 and 1024");
  if (o.lease_seconds < 1) return Usage("--lease must be at least 1 second");
  return Ok();
}

// IssueOnce runs one batch and prints its summary line; an outage that stopped the run is in
// the summary's |fatal|.
Result<batch::BatchSummary> IssueOnce(Context& ctx, batch::BatchOptions opt) {
  CP_ASSIGN_OR_RETURN(const profiles::ProfileSet* profiles, ctx.Profiles());
  CP_ASSIGN_OR_RETURN(CryptoToken * token, ctx.Token());
  // The pipeline opens connections of its own; this one checks the schema first.
  if (auto conn = ctx.Db(); !conn.ok()) return conn.status();
  CP_ASSIGN_OR_RETURN(store::DbConfig db, ctx.DbSettings());
  Progress progress("run-batch", "certs");
  opt.on_progress = [&](const batch::BatchSummary& s) {
    progress.Update(s.issued + s.failed, s.expected, "claimed " + std::to_string(s.claimed));
  };
  auto r = batch::RunBatch(*profiles, *token, db, opt);
  progress.Finish();
  if (!r.ok()) return r.status();
  ctx.out << batch::SummaryLine(*r) << "\n";
  return r;
}

CommandResult RunBatchCmd(Context& ctx) {
  batch::BatchOptions opt = BatchOptionsFrom(ctx);
  opt.limit = ctx.Get<int64_t>("limit");
  if (opt.limit < 0) return Usage("--limit must not be negative");
  if (auto r = CheckBatchOptions(opt); !r.status.ok()) return r;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  auto r = IssueOnce(ctx, opt);
  if (!r.ok()) return Fail(r.status());
  if (!r->fatal.ok()) return Fail(r->fatal.Wrap("run stopped"));
  return Ok();
}

CommandResult Scheduler(Context& ctx) {
  batch::BatchOptions opt = BatchOptionsFrom(ctx);
  if (auto r = CheckBatchOptions(opt); !r.status.ok()) return r;
  scheduler::DaemonOptions d;
  d.interval_seconds = ctx.Get<int>("interval");
  d.run_now = ctx.Flag("run-now");
  d.max_runs = ctx.Get<int>("max-runs");
  const std::string cron_text = ctx.Get<std::string>("cron");
  if (!cron_text.empty()) {
    auto c = scheduler::CronSchedule::Parse(cron_text);
    if (!c.ok()) return Usage("--cron: " + c.status().message());
    d.cron = *c;
  } else if (d.interval_seconds < 1) {
    return Usage("--interval must be at least 1 second");
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  // The outbox mailer runs beside the schedule, on its own thread and connection, when an
  // SMTP server is configured: mails go out as soon as their certificates are issued.
  std::unique_ptr<store::Connection> mail_db;
  std::shared_ptr<const kgs::ActivationKeys> mail_keys;
  const profiles::ProfileSet* mail_profiles = nullptr;
  auto mail = ctx.MailSettings();
  if (!mail.ok()) return Fail(mail.status());
  const bool mailing = !mail->smtp_url.empty();
  if (mailing) {
    if (Status st = kgs::CheckMailSettings(*mail); !st.ok()) return Fail(st);
    auto profiles = ctx.Profiles();
    if (!profiles.ok()) return Fail(profiles.status());
    mail_profiles = *profiles;
    if (auto db = ctx.Db(); !db.ok()) return Fail(db.status());
    auto keys = ctx.ActivationKeys();
    if (!keys.ok()) return Fail(keys.status());
    mail_keys = *keys;
    mail->composers["invitation"] = kgs::InvitationComposer(mail_keys, mail->public_url);
    auto settings = ctx.DbSettings();
    if (!settings.ok()) return Fail(settings.status());
    auto conn = store::Connection::Open(*settings);
    if (!conn.ok()) return Fail(conn.status());
    mail_db = std::move(conn).value();
  }
  std::atomic<bool> mailer_stop{false};
  std::thread mailer;
  if (mailing) {
    mailer = std::thread([&] {
      kgs::RunMailer(*mail_db, *mail_keys, *mail_profiles, *mail, ctx.Get<int>("mail-poll"),
                     mailer_stop);
    });
  }
  Status st = scheduler::RunDaemon(
      d, [&]() { return IssueOnce(ctx, opt); }, g_stop);
  mailer_stop.store(true);
  if (mailer.joinable()) mailer.join();
  return st.ok() ? Ok() : Fail(st);
}

CommandResult StatusCmd(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto report = batch::LoadStatus(**db);
  if (!report.ok()) return Fail(report.status());
  if (ctx.Flag("json")) {
    nlohmann::json j;
    j["requests"] = report->by_state;
    j["profiles"] = report->by_profile;
    j["runs"] = nlohmann::json::array();
    for (const auto& r : report->runs) {
      j["runs"].push_back({{"id", r.id},
                           {"claimed_by", r.claimed_by},
                           {"started_at", r.started_at},
                           {"outcome", r.result.outcome},
                           {"claimed", r.result.claimed},
                           {"issued", r.result.issued},
                           {"failed", r.result.failed},
                           {"certs_per_s", r.result.certs_per_s},
                           {"message", r.result.message}});
    }
    ctx.out << j.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "Requests:";
  for (const auto& [s, n] : report->by_state) ctx.out << "  " << s << " " << n;
  ctx.out << "\n";
  for (const auto& [p, states] : report->by_profile) {
    ctx.out << "  " << p << ":";
    for (const auto& [s, n] : states) ctx.out << " " << s << "=" << n;
    ctx.out << "\n";
  }
  ctx.out << "Last runs:\n";
  for (const auto& r : report->runs) {
    ctx.out << "  #" << r.id << " " << r.started_at << " " << r.result.outcome << ": issued "
            << r.result.issued << ", failed " << r.result.failed << ", " << r.result.certs_per_s
            << "/s";
    if (!r.result.message.empty()) ctx.out << " (" << r.result.message << ")";
    ctx.out << "\n";
  }
  return Ok();
}

void BatchRunOptions(po::options_description& d) {
  const batch::BatchOptions defaults;
  d.add_options()("threads", po::value<int>()->default_value(defaults.threads),
                  "worker threads (0: one per core)")(
      "chunk", po::value<int>()->default_value(defaults.chunk_size), "requests per chunk")(
      "tokens", po::value<int>()->default_value(defaults.tokens),
      "chunks in flight (0: 3 per thread)")(
      "lease", po::value<int>()->default_value(defaults.lease_seconds),
      "seconds a claim is held before another scheduler may take it over");
}

void KeyOptions(po::options_description& d) {
  d.add_options()("key", po::value<std::string>()->default_value(""),
                  "the operator's signing key: an encrypted PKCS#8 PEM file or a PKCS#11 URI")(
      "key-password-file", po::value<std::string>()->default_value(""),
      "file holding the key file's password (or the token PIN)");
}

void DecisionOptions(po::options_description& d) {
  KeyOptions(d);
  d.add_options()("ids", po::value<std::string>()->default_value(""), "request ids: 1,2,7-9")(
      "all", po::bool_switch(), "every pending request of --profile")(
      "profile", po::value<std::string>()->default_value(""), "card profile")(
      "dry-run", po::bool_switch(),
      "list what would be signed (profile, signing CA, subject, SANs, hash); decide nothing");
}

}  // namespace

void AddBatchCommands(std::vector<Command>& out) {
  out.push_back({"import", "import a CSV of requests against a card profile", "FILE",
                 [](po::options_description& d, po::positional_options_description& p) {
                   d.add_options()("file", po::value<std::string>()->required(),
                                   "RFC 4180 CSV, UTF-8")(
                       "profile", po::value<std::string>()->required(), "card profile")(
                       "ca", po::value<std::string>()->default_value(""),
                       "issuing CA label (default: the profile's)")(
                       "dry-run", po::bool_switch(), "check every row, store nothing");
                   KeyOptions(d);  // the submitter's, where the profile wants it
                   p.add("file", 1);
                 },
                 Import});
  out.push_back({"request submit", "submit a PKCS#10 CSR against a card profile", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("csr", po::value<std::string>()->required(),
                                   "PKCS#10, PEM or DER")(
                       "profile", po::value<std::string>()->required(), "card profile")(
                       "ca", po::value<std::string>()->default_value(""), "issuing CA label")(
                       "field", po::value<std::vector<std::string>>()->composing(),
                       "request field key=value (repeatable)");
                   KeyOptions(d);
                 },
                 Submit});
  out.push_back(
      {"approve", "approve pending requests (dual control where the profile says)", "",
       [](po::options_description& d, po::positional_options_description&) { DecisionOptions(d); },
       [](Context& c) { return Decide(c, true); }});
  out.push_back({"reject", "reject pending requests", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   DecisionOptions(d);
                   d.add_options()("reason", po::value<std::string>()->default_value(""),
                                   "why (recorded on the request)");
                 },
                 [](Context& c) { return Decide(c, false); }});
  out.push_back({"run-batch", "issue approved requests now, then exit", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   BatchRunOptions(d);
                   d.add_options()("limit", po::value<int64_t>()->default_value(0),
                                   "claim at most this many requests (0: all)");
                 },
                 RunBatchCmd});
  out.push_back({"scheduler", "run batches on a schedule until SIGTERM", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   BatchRunOptions(d);
                   d.add_options()("interval", po::value<int>()->default_value(3600),
                                   "seconds between runs")(
                       "cron", po::value<std::string>()->default_value(""),
                       "five-field cron expression (UTC) instead of --interval")(
                       "run-now", po::bool_switch(), "run once at start")(
                       "max-runs", po::value<int>()->default_value(0),
                       "exit after this many runs (0: run until SIGTERM)")(
                       "mail-poll", po::value<int>()->default_value(10),
                       "seconds between looks at the mail outbox (with mail.smtp-url)");
                 },
                 Scheduler, log::Level::kInfo});
  out.push_back({"status", "requests per state and profile, last runs", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 StatusCmd});
}

}  // namespace certpress::app
