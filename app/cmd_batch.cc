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
#include "batch/request_builder.h"
#include "scheduler/cron.h"
#include "scheduler/daemon.h"
#include "signer/csr.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/requests.h"

namespace certpress::app {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) {
  g_stop.store(true);
}

Result<std::vector<int64_t>> ParseIds(const std::string& text) {
  std::vector<int64_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    size_t dash = item.find('-');
    try {
      if (dash != std::string::npos) {
        int64_t a = std::stoll(item.substr(0, dash)), b = std::stoll(item.substr(dash + 1));
        if (b < a || b - a > 1000000) return InvalidInput("bad id range '" + item + "'");
        for (int64_t i = a; i <= b; ++i) ids.push_back(i);
      } else {
        size_t used = 0;
        ids.push_back(std::stoll(item, &used));
        if (used != item.size()) return InvalidInput("bad request id '" + item + "'");
      }
    } catch (const std::exception&) {
      return InvalidInput("bad request id '" + item + "'");
    }
  }
  if (ids.empty()) return InvalidInput("--ids lists no request ids");
  return ids;
}

CommandResult Import(Context& ctx) {
  const std::string file = ctx.Get<std::string>("file");
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(ctx.Get<std::string>("profile"));
  if (!profile.ok()) return Usage(profile.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = ResolveCa(ctx, **profile);
  if (!ca.ok()) return Fail(ca.status());
  batch::ImportOptions opt;
  opt.ca_id = *ca;
  opt.operator_name = ctx.Actor();
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
  if ((*profile)->token != profiles::TokenKind::kCsr) {
    return Usage("profile '" + (*profile)->name + "' does not take CSRs (its keys are made by " +
                 std::string(profiles::KeySourceName((*profile)->keys[0].source)) + ")");
  }
  const std::string file = ctx.Get<std::string>("csr");
  auto data = ReadFile(file);
  if (!data.ok()) return Fail(data.status());
  const auto& key = (*profile)->keys[0];
  // One parse: proof of possession and the profile's key policy together.
  auto csr = ParseCsr(AsBytes(*data), key.allowed_algorithms);
  if (!csr.ok()) return Fail(csr.status().Wrap(file));
  // Requested extensions the profile does not allow are refused, never copied.
  if (!csr->other_extensions.empty()) {
    std::string list;
    for (const auto& e : csr->other_extensions) list += (list.empty() ? "" : ", ") + e;
    return Fail(InvalidInput(file + ": the request asks for extensions the profile '" +
                             (*profile)->name + "' does not allow: " + list));
  }
  batch::Fields fields;
  for (const auto& kv : ctx.vm().count("field") ? ctx.Get<std::vector<std::string>>("field")
                                                : std::vector<std::string>{}) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      return Usage("--field takes key=value, not '" + kv + "'");
    fields[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // What the CSR itself says fills fields the operator left open: its CN and DNS names.
  if (!fields.count("cn") && (*profile)->Field("cn") && !csr->common_name.empty()) {
    fields["cn"] = csr->common_name;
  }
  std::vector<std::string> dns;
  for (const auto& san : csr->sans) {
    auto& p = **profile;
    bool allowed = false;
    for (const auto& k : p.keys) {
      auto cp = (*profiles)->Certificate(k.cert_profile);
      if (cp.ok() && (*cp)->AllowsSan(san.type)) allowed = true;
    }
    if (!allowed) {
      return Fail(InvalidInput(file + ": the request asks for a " +
                               std::string(profiles::SanTypeName(san.type)) +
                               " subjectAltName, which profile '" + p.name + "' does not allow"));
    }
    // find, not operator[]: an empty "cn" entry would fail profiles without that field.
    auto cn = fields.find("cn");
    if (san.type == profiles::SanType::kDns && (cn == fields.end() || san.value != cn->second)) {
      dns.push_back(san.value);
    }
  }
  if (!fields.count("dns") && !dns.empty() && (*profile)->Field("dns")) {
    std::string joined;
    for (const auto& d : dns) joined += (joined.empty() ? "" : ",") + d;
    fields["dns"] = joined;
  }
  auto builder = batch::RequestBuilder::Create(**profile);
  if (!builder.ok()) return Fail(builder.status());
  auto problems = builder->Check(fields);
  if (!problems.empty()) {
    std::string m;
    for (const auto& p : problems) m += (m.empty() ? "" : "; ") + p.message;
    return Fail(InvalidInput(m));
  }
  batch::FieldProblem problem;
  auto built = builder->Build(fields, &problem);
  if (!built.ok()) return Fail(built.status());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto ca = ResolveCa(ctx, **profile);
  if (!ca.ok()) return Fail(ca.status());
  store::NewRequest r = batch::NewRequestRow(**profile, *ca, std::move(built).value());
  r.csr_der = csr->der;
  int64_t id = 0;
  Status st = store::RunTransaction(**db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, store::InsertRequest(c, r));
    return store::AppendAudit(c, {ctx.Actor(), "request.submit", "request:" + std::to_string(id),
                                  "profile=" + r.profile + " subject=" + r.subject +
                                      " key=" + std::string(KeyTypeName(csr->key_type))});
  });
  if (!st.ok()) return Fail(st);
  ctx.out << "request " << id << " " << ((*profile)->approvals == 0 ? "approved" : "pending")
          << ": " << r.subject << "\n";
  return Ok();
}

// Decide applies approve or reject to --ids, or to every pending request of --profile with
// --all, in transactions of a few hundred, each decision audited.
CommandResult Decide(Context& ctx, bool approve) {
  const std::string op = ctx.Get<std::string>("operator");
  if (op.empty()) return Usage("--operator NAME is required: every decision names its operator");
  const bool all = ctx.Flag("all");
  const std::string ids_text = ctx.Get<std::string>("ids");
  const std::string profile = ctx.Get<std::string>("profile");
  if (all == !ids_text.empty()) return Usage("give either --ids or --all --profile P");
  if (all && profile.empty()) return Usage("--all needs --profile P");
  std::string reason;
  if (!approve) {
    reason = ctx.Get<std::string>("reason");
    if (reason.empty()) return Usage("--reason is required");
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  std::vector<int64_t> ids;
  if (!all) {
    auto parsed = ParseIds(ids_text);
    if (!parsed.ok()) return Usage(parsed.status().message());
    ids = *parsed;
  }
  int64_t approved = 0, waiting = 0, rejected = 0, refused = 0, after = 0;
  Progress progress(approve ? "approve" : "reject", "requests");
  for (size_t pos = 0;;) {
    std::vector<int64_t> batch_ids;
    if (all) {
      auto page = store::PendingIds(**db, profile, after, 500);
      if (!page.ok()) return Fail(page.status());
      batch_ids = *page;
      if (!batch_ids.empty()) after = batch_ids.back();
    } else {
      size_t end = std::min(ids.size(), pos + 500);
      batch_ids.assign(ids.begin() + static_cast<long>(pos), ids.begin() + static_cast<long>(end));
      pos = end;
    }
    if (batch_ids.empty()) break;
    std::vector<std::string> errors;
    int64_t a = 0, w = 0, rj = 0;
    Status st = store::RunTransaction(**db, [&](store::Connection& c) -> Status {
      errors.clear();
      a = w = rj = 0;
      std::vector<store::AuditEvent> audit;
      // One answer per id: a decision, or a refusal (not found, not pending, already decided)
      // that is reported while the rest go on. Anything else ends the page.
      std::vector<Result<store::Decision>> decisions;
      if (approve) {
        CP_ASSIGN_OR_RETURN(decisions, store::ApproveMany(c, batch_ids, op));
      } else {
        for (int64_t id : batch_ids) {
          auto d = store::Reject(c, id, op, reason);
          if (!d.ok() && d.status().kind() != ErrorKind::kConflict &&
              d.status().kind() != ErrorKind::kNotFound) {
            return d.status();
          }
          decisions.push_back(std::move(d));
        }
      }
      for (size_t k = 0; k < batch_ids.size(); ++k) {
        const int64_t id = batch_ids[k];
        auto& d = decisions[k];
        if (!d.ok()) {
          errors.push_back(d.status().message());
          continue;
        }
        std::string object = "request:" + std::to_string(id);
        if (approve) {
          audit.push_back({op, "request.approve", object,
                           "approvals=" + std::to_string(d->approvals) + " state=" + d->new_state});
          (d->new_state == store::kApproved ? a : w)++;
        } else {
          audit.push_back({op, "request.reject", object, "reason=" + reason});
          ++rj;
        }
      }
      return store::AppendAuditBatch(c, audit);
    });
    if (!st.ok()) return Fail(st);
    for (const auto& e : errors) std::cerr << e << "\n";
    approved += a;
    waiting += w;
    rejected += rj;
    refused += static_cast<int64_t>(errors.size());
    progress.Update(approved + waiting + rejected + refused,
                    all ? 0 : static_cast<int64_t>(ids.size()));
    if (!all && pos >= ids.size()) break;
  }
  progress.Finish();
  if (approve) {
    ctx.out << approved << " approved, " << waiting << " waiting for another operator";
  } else {
    ctx.out << rejected << " rejected";
  }
  ctx.out << ", " << refused << " refused\n";
  if (refused > 0)
    return Fail(Conflict(std::to_string(refused) + " decision(s) refused (listed above)"));
  return Ok();
}

batch::BatchOptions BatchOptionsFrom(Context& ctx) {
  batch::BatchOptions o;
  o.threads = ctx.Get<int>("threads");
  o.chunk_size = ctx.Get<int>("chunk");
  o.tokens = ctx.Get<int>("tokens");
  o.lease_seconds = ctx.Get<int>("lease");
  o.actor = ctx.Actor();
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

// RunOnce runs one batch and prints its summary.
CommandResult RunOnce(Context& ctx, batch::BatchOptions opt) {
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  // The pipeline opens connections of its own; this one checks the schema first.
  if (auto conn = ctx.Db(); !conn.ok()) return Fail(conn.status());
  auto db = ctx.DbSettings();
  if (!db.ok()) return Fail(db.status());
  Progress progress("run-batch", "certs");
  opt.on_progress = [&](const batch::BatchSummary& s) {
    progress.Update(s.issued + s.failed, s.expected, "claimed " + std::to_string(s.claimed));
  };
  auto r = batch::RunBatch(**profiles, **token, *db, opt);
  progress.Finish();
  if (!r.ok()) return Fail(r.status());
  char timing[96];
  std::snprintf(timing, sizeof timing, " in %.2f s (%.0f certificates/s)", r->seconds,
                r->seconds > 0 ? r->issued / r->seconds : 0.0);
  ctx.out << "run " << r->run_id << ": issued " << r->issued << ", failed " << r->failed
          << ", claimed " << r->claimed << timing;
  if (r->released) ctx.out << ", released " << r->released;
  ctx.out << "\n";
  if (!r->fatal.ok()) return Fail(r->fatal.Wrap("run stopped"));
  return Ok();
}

CommandResult RunBatchCmd(Context& ctx) {
  batch::BatchOptions opt = BatchOptionsFrom(ctx);
  opt.limit = ctx.Get<int64_t>("limit");
  if (opt.limit < 0) return Usage("--limit must not be negative");
  if (auto r = CheckBatchOptions(opt); !r.status.ok()) return r;
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  return RunOnce(ctx, opt);
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
  Status st = scheduler::RunDaemon(
      d, [&]() { return RunOnce(ctx, opt).status; }, g_stop, std::cerr);
  return st.ok() ? Ok() : Fail(st);
}

CommandResult StatusCmd(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto counts = store::CountRequests(**db);
  if (!counts.ok()) return Fail(counts.status());
  auto runs = (*db)->Query(
      "SELECT id, claimed_by, DATE_FORMAT(started_at, '%Y-%m-%d %H:%i:%s'), "
      "outcome, claimed, issued, failed, CAST(ROUND(certs_per_s) AS INTEGER), "
      "COALESCE(message, '') "
      "FROM runs ORDER BY id DESC LIMIT 5");
  if (!runs.ok()) return Fail(runs.status());
  static const char* kStates[] = {"pending", "approved", "issuing",  "issued",
                                  "failed",  "rejected", "delivered"};
  std::map<std::string, int64_t> by_state;
  for (const char* s : kStates) by_state[s] = 0;
  std::map<std::string, std::map<std::string, int64_t>> by_profile;
  for (const auto& c : *counts) {
    by_state[c.state] += c.count;
    by_profile[c.profile][c.state] += c.count;
  }
  if (ctx.Flag("json")) {
    nlohmann::json j;
    j["requests"] = by_state;
    j["profiles"] = by_profile;
    j["runs"] = nlohmann::json::array();
    for (const auto& r : *runs) {
      j["runs"].push_back({{"id", r.Int(0)},
                           {"claimed_by", r.Str(1)},
                           {"started_at", r.Str(2)},
                           {"outcome", r.Str(3)},
                           {"claimed", r.Int(4)},
                           {"issued", r.Int(5)},
                           {"failed", r.Int(6)},
                           {"certs_per_s", r.Int(7)},
                           {"message", r.Str(8)}});
    }
    ctx.out << j.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "Requests:";
  for (const auto& [s, n] : by_state) ctx.out << "  " << s << " " << n;
  ctx.out << "\n";
  for (const auto& [p, states] : by_profile) {
    ctx.out << "  " << p << ":";
    for (const auto& [s, n] : states) ctx.out << " " << s << "=" << n;
    ctx.out << "\n";
  }
  ctx.out << "Last runs:\n";
  for (const auto& r : *runs) {
    ctx.out << "  #" << r.Int(0) << " " << r.Str(2) << " " << r.Str(3) << ": issued " << r.Int(5)
            << ", failed " << r.Int(6) << ", " << r.Int(7) << "/s";
    if (!r.Str(8).empty()) ctx.out << " (" << r.Str(8) << ")";
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

void DecisionOptions(po::options_description& d) {
  d.add_options()("ids", po::value<std::string>()->default_value(""), "request ids: 1,2,7-9")(
      "all", po::bool_switch(), "every pending request of --profile")(
      "profile", po::value<std::string>()->default_value(""), "card profile");
}

}  // namespace

Result<int64_t> ResolveCa(Context& ctx, const profiles::CardProfile& profile) {
  std::string label = ctx.vm().count("ca") ? ctx.Get<std::string>("ca") : "";
  if (label.empty()) label = profile.ca;
  if (label.empty()) {
    return InvalidInput("profile '" + profile.name + "' names no issuing CA; give --ca LABEL");
  }
  CP_ASSIGN_OR_RETURN(store::Connection * db, ctx.Db());
  CP_ASSIGN_OR_RETURN(auto ca, store::FindCa(*db, label));
  if (!ca) return NotFound("no CA labelled '" + label + "'");
  if (ca->status != "active") return InvalidInput("CA '" + label + "' is not active");
  return ca->id;
}

void AddBatchCommands(std::vector<Command>& out) {
  out.push_back({"import", "import a CSV of requests against a card profile", "FILE",
                 [](po::options_description& d, po::positional_options_description& p) {
                   d.add_options()("file", po::value<std::string>()->required(),
                                   "RFC 4180 CSV, UTF-8")(
                       "profile", po::value<std::string>()->required(), "card profile")(
                       "ca", po::value<std::string>()->default_value(""),
                       "issuing CA label (default: the profile's)")(
                       "dry-run", po::bool_switch(), "check every row, store nothing");
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
                       "exit after this many runs (0: run until SIGTERM)");
                 },
                 Scheduler});
  out.push_back({"status", "requests per state and profile, last runs", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 StatusCmd});
}

}  // namespace certpress::app
