// `certpress activation ...` and `certpress mail ...`: activation codes, resends and the
// outbox (kgs/activations.h, kgs/mailer.h). Options in, results out.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "kgs/activations.h"
#include "kgs/invitation_links.h"
#include "kgs/mailer.h"

namespace certpress::app {

namespace {

Result<int64_t> RequestOption(Context& ctx) {
  const int64_t id = ctx.Get<int64_t>("request");
  if (id <= 0) return InvalidInput("--request must be a request id");
  return id;
}

CommandResult Code(Context& ctx) {
  auto id = RequestOption(ctx);
  if (!id.ok()) return Usage(id.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto keys = ctx.ActivationKeys();
  if (!keys.ok()) return Fail(keys.status());
  // Where the request's profile posts its code, the code is never shown: a lost letter is
  // replaced by a new letter with a new code.
  const profiles::CardProfile* profile = nullptr;
  if (auto acts = kgs::ListActivations(**db, *id); acts.ok() && !acts->empty()) {
    auto profiles = ctx.Profiles();
    if (!profiles.ok()) return Fail(profiles.status());
    if (auto p = (*profiles)->Card(acts->front().profile); p.ok()) profile = *p;
  }
  const bool by_letter =
      profile != nullptr && profile->activation.code == profiles::CodeChannel::kLetter;
  const std::string request = "request " + std::to_string(*id);
  if (ctx.Flag("letter")) {
    if (!by_letter) {
      return Fail(Conflict(request + ": its profile does not send activation codes by letter " +
                           "(activation.code = \"letter\"); ask without --letter"));
    }
    auto token = ctx.Token();
    if (!token.ok()) return Fail(token.status());
    auto letter = kgs::NewCodeLetter(**db, **token, kKekLabel, **keys, *profile, *id, ctx.Actor());
    if (!letter.ok()) return Fail(letter.status());
    ctx.out << request << ": a new activation code is sealed in letter " << *letter
            << " (`certpress pinletter print --id " << *letter
            << "`); the old code and its letter no longer work\n";
    return Ok();
  }
  if (by_letter) {
    return Fail(Conflict(request + ": its profile " + profile->name +
                         " sends the activation code by letter, so it is never shown here; " +
                         "to replace a lost letter: `certpress activation code --request " +
                         std::to_string(*id) + " --letter`"));
  }
  auto code = kgs::MintCode(**db, **keys, *id, ctx.Actor());
  if (!code.ok()) return Fail(code.status());
  // The one place a code is shown: to the operator, who passes it on by another channel.
  ctx.out << "activation code for request " << *id << ": " << code->str()
          << "\n(shown once: asking again makes a new code and this one stops working)\n";
  return Ok();
}

CommandResult Resend(Context& ctx) {
  auto id = RequestOption(ctx);
  if (!id.ok()) return Usage(id.status().message());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  // A locked activation gets a new code with its new link (kgs::Resend): the keys and profiles
  // to draw it, and the token for a code letter, only where the resend needs them.
  kgs::ResendCodes codes;
  auto acts = kgs::ListActivations(**db, *id);
  if (!acts.ok()) return Fail(acts.status());
  const bool locked = !acts->empty() && acts->front().state == store::kActLocked;
  if (locked) {
    auto keys = ctx.ActivationKeys();
    if (!keys.ok()) return Fail(keys.status());
    auto profiles = ctx.Profiles();
    if (!profiles.ok()) return Fail(profiles.status());
    auto token = ctx.Token();
    if (!token.ok()) return Fail(token.status());
    codes.keys = keys->get();
    codes.profiles = *profiles;
    codes.token = *token;
    codes.kek_label = kKekLabel;
  }
  auto a = kgs::Resend(**db, *id, ctx.Actor(), codes);
  if (!a.ok()) return Fail(a.status());
  ctx.out << "request " << *id << ": the old link no longer works; activation " << a->activation_id
          << " queued (sent by `certpress mail send` or the scheduler)\n";
  if (a->letter_id > 0) {
    ctx.out << "it was locked: a new activation code is sealed in letter " << a->letter_id
            << " (`certpress pinletter print --id " << a->letter_id
            << "`); the old code no longer works\n";
  } else if (a->new_code) {
    // Shown once, as `activation code` shows one: the operator passes it on by another channel.
    ctx.out << "it was locked, so the old code no longer works; new activation code for request "
            << *id << ": " << a->code.str() << "\n(shown once)\n";
  }
  return Ok();
}

CommandResult List(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto rows = kgs::ListActivations(**db, ctx.Get<int64_t>("request"));
  if (!rows.ok()) return Fail(rows.status());
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& a : *rows) {
      arr.push_back({{"activation", a.id},
                     {"request", a.request_id},
                     {"profile", a.profile},
                     {"recipient", a.recipient_email},
                     {"name", a.recipient_name},
                     {"state", a.state},
                     {"mail", a.mail_state},
                     {"wrong_attempts", a.attempts},
                     {"expires_at", a.expires_at}});
    }
    ctx.out << arr.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "REQUEST  ACTIVATION  STATE    MAIL     EXPIRES (UTC)        RECIPIENT\n";
  for (const auto& a : *rows) {
    char line[160];
    std::snprintf(line, sizeof line, "%-8lld %-11lld %-8s %-8s %-20s ",
                  static_cast<long long>(a.request_id), static_cast<long long>(a.id),
                  a.state.c_str(), a.mail_state.c_str(), a.expires_at.c_str());
    ctx.out << line << a.recipient_email << "\n";
  }
  const auto undelivered = std::count_if(
      rows->begin(), rows->end(), [](const auto& a) { return a.state == store::kActUndelivered; });
  if (undelivered > 0) {
    ctx.out << undelivered
            << " undelivered: `certpress mail list` shows the mail server's reply; once the "
               "address is right, `certpress activation resend --request ID` sends a new link\n";
  }
  return Ok();
}

CommandResult MailSend(Context& ctx) {
  auto settings = ctx.MailSettings();
  if (!settings.ok()) return Fail(settings.status());
  if (Status st = kgs::CheckMailSettings(*settings); !st.ok()) return Fail(st);
  auto profiles = ctx.Profiles();
  if (!profiles.ok()) return Fail(profiles.status());
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto keys = ctx.ActivationKeys();
  if (!keys.ok()) return Fail(keys.status());
  settings->composers["invitation"] = kgs::InvitationComposer(*keys, settings->public_url);
  auto r = kgs::DrainOutbox(**db, **keys, **profiles, *settings, ctx.Get<int>("max"));
  if (!r.ok()) return Fail(r.status());
  ctx.out << "mail: " << r->sent << " sent, " << r->retried << " deferred, " << r->failed
          << " failed, " << r->voided << " void\n";
  return Ok();
}

CommandResult MailList(Context& ctx) {
  auto db = ctx.Db();
  if (!db.ok()) return Fail(db.status());
  auto rows = store::ListMails(**db);
  if (!rows.ok()) return Fail(rows.status());
  if (ctx.Flag("json")) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : *rows) {
      arr.push_back({{"id", m.id},
                     {"kind", m.kind},
                     {"ref", m.ref_id},
                     {"recipient", m.recipient_email},
                     {"state", m.state},
                     {"attempts", m.attempts},
                     {"next_attempt_at", m.next_attempt_at},
                     {"last_error", m.last_error},
                     {"message_id", m.message_id}});
    }
    ctx.out << arr.dump(2) << "\n";
    return Ok();
  }
  ctx.out << "MAIL     KIND        STATE    TRIES NEXT (UTC)           RECIPIENT\n";
  for (const auto& m : *rows) {
    char line[160];
    std::snprintf(line, sizeof line, "%-8lld %-11s %-8s %-5d %-20s ", static_cast<long long>(m.id),
                  m.kind.c_str(), m.state.c_str(), m.attempts, m.next_attempt_at.c_str());
    ctx.out << line << m.recipient_email << (m.last_error.empty() ? "" : "  (" + m.last_error + ")")
            << "\n";
  }
  return Ok();
}

void RequestArg(po::options_description& d, po::positional_options_description&) {
  d.add_options()("request", po::value<int64_t>()->required(), "request id");
}

}  // namespace

void AddActivationCommands(std::vector<Command>& out) {
  out.push_back({"activation code",
                 "show a new activation code for a request (once; asking again makes a new one), "
                 "or with --letter queue it in a new letter",
                 "",
                 [](po::options_description& d, po::positional_options_description& p) {
                   RequestArg(d, p);
                   d.add_options()("letter", po::bool_switch(),
                                   "for a profile that posts its codes: a new code in a new "
                                   "letter (replaces a lost one)");
                 },
                 Code});
  out.push_back({"activation resend", "void a request's activation link and mail a new one", "",
                 RequestArg, Resend});
  out.push_back({"activation list", "activations: request, recipient, state; never a secret", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output")(
                       "request", po::value<int64_t>()->default_value(0),
                       "only this request's activations");
                 },
                 List});
  out.push_back({"mail send", "send the mails that are due from the outbox, then exit", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("max", po::value<int>()->default_value(0),
                                   "send at most this many (0: all that are due)");
                 },
                 MailSend});
  out.push_back({"mail list", "the outbox: state, attempts, next attempt, last error", "",
                 [](po::options_description& d, po::positional_options_description&) {
                   d.add_options()("json", po::bool_switch(), "machine-readable output");
                 },
                 MailList});
}

}  // namespace certpress::app
