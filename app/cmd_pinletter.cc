// `certpress pinletter ...`: PIN letters (kgs/letters.h holds every rule; this file parses
// options, calls it and prints).
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "kgs/letters.h"
#include "ra/operators.h"
#include "signer/operator_key.h"
#include "store/pin_letters.h"

namespace certpress::app {

namespace {

// QueueDir is --out-dir, else letters.queue-dir, else $CERTPRESS_STATE/pinletters, else
// .certpress/pinletters (the state directory's default).
std::string QueueDir(const Context& ctx) {
  if (std::string d = ctx.Get<std::string>("out-dir"); !d.empty()) return d;
  if (std::string d = ctx.Get<std::string>("letters.queue-dir"); !d.empty()) return d;
  const char* state = std::getenv("CERTPRESS_STATE");
  return std::string(state != nullptr && *state != '\0' ? state : ".certpress") + "/pinletters";
}

CommandResult List(Context& ctx) {
  const std::string state = ctx.Get<std::string>("state");
  if (!state.empty() && state != store::kLetterCreated && state != store::kLetterPrinted &&
      state != store::kLetterMailed && state != store::kLetterVoid) {
    return Usage("--state must be created, printed, mailed or void");
  }
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  std::vector<store::PinLetterRecord> all;
  for (int64_t after = 0;;) {
    auto page = store::ListPinLetters(**db, state, after, 1000);
    if (!page.ok()) return Fail(page.status());
    if (page->empty()) break;
    after = page->back().id;
    for (auto& l : *page) all.push_back(std::move(l));
  }
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& l : all) {
      arr.push_back({{"id", l.id},
                     {"kind", l.kind},
                     {"state", l.state},
                     {"request_id", l.request_id},
                     {"card_serial", l.card_serial},
                     {"profile", l.profile},
                     {"holder_name", l.holder_name},
                     {"pin_only", !l.has_puk},
                     {"secret", l.sealed_present() ? "sealed" : "wiped"},
                     {"print_count", l.print_count},
                     {"created_at", l.created_at},
                     {"printed_at", l.printed_at.empty() ? nullptr : nlohmann::json(l.printed_at)},
                     {"mailed_at", l.mailed_at.empty() ? nullptr : nlohmann::json(l.mailed_at)}});
    }
    ctx.out << arr.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return Ok();
  }
  ctx.out << "ID      STATE    REQUEST  CARD SERIAL       PROFILE          SECRET  PRINTS  "
             "CREATED              PRINTED              MAILED               KIND\n";
  for (const auto& l : all) {
    char line[512];
    std::snprintf(
        line, sizeof line, "%-7lld %-8s %-8lld %-17s %-16s %-7s %-7d %-20s %-20s %-20s %s",
        static_cast<long long>(l.id), l.state.c_str(), static_cast<long long>(l.request_id),
        l.card_serial.empty() ? "-" : l.card_serial.c_str(), l.profile.c_str(),
        l.sealed_present() ? "sealed" : "wiped", l.print_count, l.created_at.c_str(),
        l.printed_at.empty() ? "-" : l.printed_at.c_str(),
        l.mailed_at.empty() ? "-" : l.mailed_at.c_str(), l.kind.c_str());
    ctx.out << line << "\n";
  }
  return Ok();
}

CommandResult Reprint(Context& ctx, int64_t id) {
  const std::string op = ctx.Get<std::string>("operator");
  if (op.empty()) return Usage("--reprint needs --operator NAME: a reprint names its operator");
  auto canonical = ra::CanonicalOperatorName(op);
  if (!canonical.ok()) return Usage(canonical.status().message());
  const std::string key_spec = ctx.Get<std::string>("key");
  if (key_spec.empty()) {
    return Usage("--reprint needs --key FILE|PKCS11-URI: the operator signs the reprint");
  }
  SecureString password;
  if (const std::string f = ctx.Get<std::string>("key-password-file"); !f.empty()) {
    auto pw = ReadSecretFile(f);
    if (!pw.ok()) return Fail(pw.status().Wrap("reading the key password"));
    password = std::move(pw).value();
  }
  auto key = OpenStatementKey(key_spec, password, ctx.Get<std::string>("token.module"));
  if (!key.ok()) return Fail(key.status().Wrap("operator key"));
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  return Fail(kgs::ReprintLetter(**db, id, *canonical, **key));
}

CommandResult Print(Context& ctx) {
  const int64_t id = ctx.Get<int64_t>("id");
  const bool all = ctx.Flag("all");
  if ((id > 0) == all) return Usage("give exactly one of --id N or --all");
  if (ctx.Flag("reprint")) {
    if (all) return Usage("--reprint takes one letter (--id N), never --all");
    return Reprint(ctx, id);
  }
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto token = ctx.Token();
  if (!token.ok()) return Fail(token.status());
  kgs::PrintOptions options;
  options.queue_dir = QueueDir(ctx);
  options.spooler = ctx.Get<std::string>("letters.spooler");
  options.actor = ctx.Actor();
  options.profiles = *profiles;
  if (!all) {
    auto printed = kgs::PrintLetter(**db, **token, id, options);
    if (!printed.ok()) return Fail(printed.status());
    ctx.out << "letter " << printed->id
            << (printed->spooled ? " sent to the spooler" : " printed to " + printed->path) << "\n";
    return Ok();
  }
  auto tally = kgs::PrintAll(**db, **token, options);
  if (!tally.ok()) return Fail(tally.status());
  for (const auto& p : tally->printed) {
    ctx.out << "letter " << p.id << (p.spooled ? " sent to the spooler" : " printed to " + p.path)
            << "\n";
  }
  for (const auto& f : tally->failed) std::cerr << f << "\n";
  ctx.out << tally->printed.size() << " printed, " << tally->failed.size() << " failed\n";
  if (!tally->failed.empty()) {
    return Fail(
        Conflict(std::to_string(tally->failed.size()) + " letter(s) not printed (listed above)"));
  }
  return Ok();
}

CommandResult MarkMailed(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  const int64_t id = ctx.Get<int64_t>("id");
  if (Status st = kgs::MarkMailed(**db, id, ctx.Actor()); !st.ok()) return Fail(st);
  ctx.out << "letter " << id << " marked mailed\n";
  return Ok();
}

CommandResult Sample(Context& ctx) {
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto profile = (*profiles)->Card(ctx.Get<std::string>("profile"));
  if (!profile.ok()) return Fail(profile.status());
  kgs::LetterRecipient recipient;
  recipient.holder_name = ctx.Get<std::string>("holder");
  if (ctx.vm().count("address")) {
    recipient.postal_address = ctx.Get<std::vector<std::string>>("address");
  }
  if (recipient.holder_name.empty() != recipient.postal_address.empty()) {
    return Usage("--holder and --address go together");
  }
  auto pdf = kgs::SampleLetter(**profile, recipient);
  if (!pdf.ok()) return Fail(pdf.status().Wrap("profile " + (*profile)->name));
  const std::string out = ctx.Get<std::string>("out");
  if (Status st = WriteNewFile(out, pdf->view(), 0644, /*replace=*/true); !st.ok()) {
    return Fail(st);
  }
  ctx.out << "wrote a sample letter of profile " << (*profile)->name << " to " << out << "\n";
  return Ok();
}

void IdOption(po::options_description& d) {
  d.add_options()("id", po::value<int64_t>()->default_value(0), "letter id");
}

}  // namespace

void AddPinLetterCommands(std::vector<Command>& out) {
  out.push_back({"pinletter list",
                 "list letters (PIN letters and activation-code letters) and their state", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output")(
                       "state", po::value<std::string>()->default_value(""),
                       "only letters in this state: created, printed, mailed or void");
                 },
                 List});
  out.push_back(
      {"pinletter print",
       "write PIN letters as PDFs to the print queue; their PIN and PUK are wiped then", "",
       [](po::options_description& d, po::positional_options_description&) {
         IdOption(d);
         d.add_options()("all", po::bool_switch(), "every letter not printed yet")(
             "out-dir", po::value<std::string>()->default_value(""),
             "the print queue directory (default: letters.queue-dir)")(
             "letters.queue-dir", po::value<std::string>()->default_value(""),
             "the print queue directory (default: $CERTPRESS_STATE/pinletters, else "
             ".certpress/pinletters)")(
             "letters.spooler", po::value<std::string>()->default_value(""),
             "the print spooler's command, run with each letter's PDF as its last argument "
             "(e.g. \"lp -d letters --\"); once it exits 0 the PDF is removed from the queue "
             "directory (default: none, the PDF stays there for what takes it)")(
             "reprint", po::bool_switch(),
             "ask to print a printed letter again (refused: its PIN "
             "was wiped; audited; needs --operator and --key)")(
             "key", po::value<std::string>()->default_value(""),
             "with --reprint: the operator's signing key, an encrypted PKCS#8 PEM file or a "
             "PKCS#11 URI")("key-password-file", po::value<std::string>()->default_value(""),
                            "file holding the key file's password (or the token PIN)");
       },
       Print});
  out.push_back({"pinletter mark-mailed", "record that a printed PIN letter was mailed", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("id", po::value<int64_t>()->required(), "letter id");
                 },
                 MarkMailed});
  out.push_back({"pinletter sample",
                 "lay out a sample letter of a profile (made-up holder and PIN, marked SAMPLE)", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("profile", po::value<std::string>()->required(), "card profile")(
                       "out", po::value<std::string>()->required(), "the PDF to write")(
                       "holder", po::value<std::string>()->default_value(""),
                       "show this holder's name (with --address)")(
                       "address", po::value<std::vector<std::string>>()->multitoken(),
                       "show these postal address lines (1 to 5)");
                 },
                 Sample});
}

}  // namespace certpress::app
