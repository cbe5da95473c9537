#include "kgs/letters.h"

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/utf8.h"
#include "kgs/letter_pdf.h"
#include "kgs/sealed_keys.h"
#include "signer/aead.h"
#include "store/audit.h"
#include "store/cards.h"
#include "store/operators.h"
#include "store/pin_letters.h"

namespace certpress::kgs {

namespace {

constexpr size_t kMaxNameChars = 128;
constexpr size_t kMaxAddressLines = 5;
constexpr size_t kMaxAddressChars = 64;
constexpr size_t kMaxSerialBytes = 64;

// CheckDigits checks a PIN or PUK without ever putting its value in a message.
Status CheckDigits(const SecureString& s, const char* what) {
  if (s.size() < 6 || s.size() > 8) {
    return InvalidInput(std::string(what) + ": must be 6 to 8 digits, not " +
                        std::to_string(s.size()) + " characters");
  }
  if (!std::all_of(s.view().begin(), s.view().end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidInput(std::string(what) + ": must be digits only (FIPS 201-3 4.3.1)");
  }
  return Status::Ok();
}

Status CheckText(const std::string& value, const std::string& what, size_t max_chars) {
  size_t offset = 0;
  if (Status st = CheckFieldText(value, &offset); !st.ok()) return st.Wrap(what);
  const size_t n = Utf8Length(value);
  if (n == 0) return InvalidInput(what + ": is empty");
  if (n > max_chars) {
    return InvalidInput(what + ": " + std::to_string(n) + " characters, at most " +
                        std::to_string(max_chars));
  }
  return Status::Ok();
}

// UtcNow renders the current time as |format| (strftime) in UTC.
std::string UtcNow(const char* format) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// IdRanges writes ids compactly for an audit entry: "4-9,12,15-16", sorted; cut short (with
// "...") past 4,000 characters, which a chunk of thousands of letters could reach.
std::string IdRanges(std::vector<int64_t> ids) {
  std::sort(ids.begin(), ids.end());
  std::string out;
  for (size_t i = 0; i < ids.size();) {
    size_t j = i;
    while (j + 1 < ids.size() && ids[j + 1] == ids[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (out.size() > 4000) return out + "...";
    out += std::to_string(ids[i]);
    if (j > i) out += "-" + std::to_string(ids[j]);
    i = j + 1;
  }
  return out;
}

std::string Object(int64_t id) {
  return "pinletter:" + std::to_string(id);
}

bool IsCodeLetter(const store::PinLetterRecord& l) {
  return l.kind == store::kKindActivationCode;
}

// What names what a letter is for: its card, or the request whose activation code it carries.
std::string What(const store::PinLetterRecord& l) {
  if (IsCodeLetter(l)) return "activation code of request " + std::to_string(l.request_id);
  return "card " + l.card_serial;
}

// WhenDone says what happened to a letter that is past `created`, and when.
std::string WhenDone(const store::PinLetterRecord& l) {
  std::string out = "letter " + std::to_string(l.id) + " (" + What(l) + ") was printed on " +
                    l.printed_at + " UTC";
  if (l.state == store::kLetterMailed) out += " and mailed on " + l.mailed_at + " UTC";
  return out;
}

// EnsureQueueDir creates the print queue directory, owner-only, if it is missing.
Status EnsureQueueDir(const std::string& dir) {
  if (dir.empty()) return InvalidInput("no print queue directory");
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return Status::Ok();
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return InvalidInput("cannot create the print queue directory " + dir + ": " + ec.message());
  // Letters hold PINs until they are printed on paper: only the owner may list or read them.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return InvalidInput("cannot restrict the print queue directory " + dir);
  }
  return Status::Ok();
}

// OpenedSecret is a letter's PIN and PUK, opened into wiped memory.
struct OpenedSecret {
  SecureString secret;  // "PIN\nPUK"
  std::string_view pin() const { return secret.view().substr(0, secret.view().find('\n')); }
  std::string_view puk() const {
    size_t nl = secret.view().find('\n');
    return nl == std::string_view::npos ? std::string_view() : secret.view().substr(nl + 1);
  }
};

Result<OpenedSecret> OpenSecret(CryptoToken& token, const store::PinLetterRecord& l) {
  if (l.sealed.empty() || l.wrapped_key.empty() || l.kek_label.empty()) {
    return Internal("letter " + std::to_string(l.id) + " is " + l.state +
                    " but holds no sealed secret");
  }
  CP_ASSIGN_OR_RETURN(SecureString key, token.SecretDecrypt(l.kek_label, AsBytes(l.wrapped_key),
                                                            AsBytes(kLetterKeyAad)));
  const std::string aad = LetterSecretAad(l.id, l.request_id, l.card_serial, l.kind);
  CP_ASSIGN_OR_RETURN(SecureString secret,
                      AesGcmOpen(AsBytes(key.view()), AsBytes(l.sealed), AsBytes(aad)));
  if (secret.view().find('\n') == std::string_view::npos) {
    return Internal("letter " + std::to_string(l.id) + ": the opened secret is malformed");
  }
  return OpenedSecret{std::move(secret)};
}

}  // namespace

std::string LetterSecretAad(int64_t letter_id, int64_t request_id, std::string_view card_serial,
                            std::string_view kind) {
  if (kind == store::kKindActivationCode) {
    // Its own label: a sealed code moved into a PIN letter's row (or back) does not open.
    return "certpress-code-letter-v1:" + std::to_string(letter_id) + ":" +
           std::to_string(request_id);
  }
  return "certpress-letter-v1:" + std::to_string(letter_id) + ":" + std::to_string(request_id) +
         ":" + std::string(card_serial);
}

Status CheckRecipient(const std::string& holder_name,
                      const std::vector<std::string>& postal_address) {
  CP_RETURN_IF_ERROR(CheckText(holder_name, "holder name", kMaxNameChars));
  if (postal_address.empty() || postal_address.size() > kMaxAddressLines) {
    return InvalidInput("postal address: must have 1 to " + std::to_string(kMaxAddressLines) +
                        " lines, not " + std::to_string(postal_address.size()));
  }
  for (size_t i = 0; i < postal_address.size(); ++i) {
    CP_RETURN_IF_ERROR(CheckText(postal_address[i], "postal address line " + std::to_string(i + 1),
                                 kMaxAddressChars));
  }
  return CheckWindowFit(holder_name, postal_address);
}

Result<CodeLetterKey> CodeLetterKey::Draw(CryptoToken& token, const std::string& kek_label) {
  auto drawn = DrawWrappedKey(token, kek_label, kLetterKeyAad);
  if (!drawn.ok()) return drawn.status().Wrap("the activation-code letters' key");
  CodeLetterKey k;
  k.kek_label_ = kek_label;
  k.key_ = std::move(drawn->key);
  k.wrapped_ = std::move(drawn->wrapped);
  return k;
}

Result<std::vector<int64_t>> StoreCodeLetters(store::Connection& tx, const CodeLetterKey& key,
                                              const std::vector<CodeLetter>& letters,
                                              const std::string& actor, store::AuditEvent* audit) {
  if (letters.empty()) return std::vector<int64_t>{};
  std::vector<store::PinLetterRecord> rows;
  rows.reserve(letters.size());
  for (const CodeLetter& l : letters) {
    store::PinLetterRecord r;
    r.kind = store::kKindActivationCode;
    r.request_id = l.request_id;
    r.profile = l.profile;
    r.holder_name = l.holder_name;
    r.address = l.postal_address;
    r.has_puk = false;
    r.kek_label = key.kek_label_;
    r.wrapped_key = std::string(AsString(key.wrapped_));
    rows.push_back(std::move(r));
  }
  CP_ASSIGN_OR_RETURN(std::vector<int64_t> ids, store::InsertLetters(tx, rows));
  std::vector<std::pair<int64_t, std::string>> sealed;
  sealed.reserve(letters.size());
  for (size_t i = 0; i < letters.size(); ++i) {
    // "CODE\n": the form of a PIN letter's secret with no PUK, so printing opens both alike.
    std::string secret;
    secret.reserve(letters[i].code.size() + 1);
    secret.append(letters[i].code.view()).push_back('\n');
    SecureString clear(std::move(secret));
    const std::string aad =
        LetterSecretAad(ids[i], letters[i].request_id, "", store::kKindActivationCode);
    CP_ASSIGN_OR_RETURN(Bytes box,
                        AesGcmSeal(AsBytes(key.key_.view()), AsBytes(clear.view()), AsBytes(aad)));
    sealed.emplace_back(ids[i], std::string(AsString(box)));
  }
  CP_RETURN_IF_ERROR(store::SetLettersSealed(tx, sealed));
  if (audit != nullptr) {
    std::vector<int64_t> requests;
    for (const CodeLetter& l : letters) requests.push_back(l.request_id);
    *audit = {actor, "pinletter.create", "pinletter:" + std::to_string(ids.front()),
              "kind=activation-code letters=" + std::to_string(ids.size()) +
                  " ids=" + IdRanges(ids) + " requests=" + IdRanges(requests)};
  }
  return ids;
}

Result<LetterRecipient> RecipientFromFields(const profiles::CardProfile& profile,
                                            const std::map<std::string, std::string>& fields) {
  const profiles::LetterTemplate& t = profile.letter;
  if (t.recipient.empty() || t.address.empty()) {
    return InvalidInput("profile " + profile.name +
                        " has no [letter] recipient and address templates");
  }
  // Optional fields may be absent from a request: they render as empty.
  std::map<std::string, std::string> all;
  for (const auto& f : profile.fields) all[f.name] = "";
  for (const auto& [k, v] : fields) all[k] = v;
  LetterRecipient out;
  CP_ASSIGN_OR_RETURN(out.holder_name, profiles::RenderTemplate(t.recipient, all));
  for (const auto& line : t.address) {
    CP_ASSIGN_OR_RETURN(std::string rendered, profiles::RenderTemplate(line, all));
    if (!rendered.empty()) out.postal_address.push_back(std::move(rendered));
  }
  return out;
}

Status CheckLetterInput(const PinLetterInput& in) {
  if (in.request_id <= 0) return InvalidInput("request id: must be positive");
  if (in.card_serial.empty() || in.card_serial.size() > kMaxSerialBytes ||
      !std::all_of(in.card_serial.begin(), in.card_serial.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
               c == ':' || c == '.' || c == '_' || c == '-';
      })) {
    return InvalidInput("card serial '" + in.card_serial.substr(0, kMaxSerialBytes) +
                        "': must be 1 to 64 of A-Z a-z 0-9 : . _ -");
  }
  if (in.profile.empty() || in.profile.size() > 64) {
    return InvalidInput("profile: must be 1 to 64 characters");
  }
  CP_RETURN_IF_ERROR(CheckRecipient(in.holder_name, in.postal_address));
  CP_RETURN_IF_ERROR(CheckDigits(in.pin, "PIN"));
  if (!in.puk.empty()) CP_RETURN_IF_ERROR(CheckDigits(in.puk, "PUK"));
  return Status::Ok();
}

Result<PreparedLetter> PrepareLetter(CryptoToken& token, const std::string& kek_label,
                                     const PinLetterInput& in) {
  const std::string what = "PIN letter for card " + in.card_serial;
  if (Status st = CheckLetterInput(in); !st.ok()) return st.Wrap(what);
  auto drawn = DrawWrappedKey(token, kek_label, kLetterKeyAad);
  if (!drawn.ok()) return drawn.status().Wrap(what + ": letter key");
  PreparedLetter p;
  p.request_id_ = in.request_id;
  p.card_serial_ = in.card_serial;
  p.profile_ = in.profile;
  p.holder_name_ = in.holder_name;
  p.address_ = in.postal_address;
  // Built in place in the SecureString's own buffer: no temporary copy of the PIN to wipe.
  std::string secret;
  secret.reserve(in.pin.size() + in.puk.size() + 1);
  secret.append(in.pin.view()).append(1, '\n').append(in.puk.view());
  p.secret_ = SecureString(std::move(secret));
  p.has_puk_ = !in.puk.empty();
  p.kek_label_ = kek_label;
  p.key_ = std::move(drawn->key);
  p.wrapped_key_ = std::move(drawn->wrapped);
  return p;
}

Result<int64_t> StoreLetter(store::Connection& db, const PreparedLetter& letter,
                            const std::string& actor) {
  store::PinLetterRecord rec;
  rec.request_id = letter.request_id_;
  rec.card_serial = letter.card_serial_;
  rec.profile = letter.profile_;
  rec.holder_name = letter.holder_name_;
  rec.address = letter.address_;
  rec.has_puk = letter.has_puk_;
  CP_ASSIGN_OR_RETURN(int64_t id, store::InsertPinLetter(db, rec));
  const std::string aad = LetterSecretAad(id, letter.request_id_, letter.card_serial_);
  CP_ASSIGN_OR_RETURN(Bytes sealed, AesGcmSeal(AsBytes(letter.key_.view()),
                                               AsBytes(letter.secret_.view()), AsBytes(aad)));
  CP_RETURN_IF_ERROR(
      store::SetLetterSecret(db, id, letter.kek_label_, letter.wrapped_key_, sealed));
  CP_RETURN_IF_ERROR(store::AppendAudit(
      db, {actor, "pinletter.create", Object(id),
           "request=" + std::to_string(letter.request_id_) + " card=" + letter.card_serial_ +
               " profile=" + letter.profile_ + (letter.has_puk_ ? " pin+puk" : " pin")}));
  return id;
}

Result<int64_t> QueueLetter(store::Connection& db, CryptoToken& token, const std::string& kek_label,
                            const PinLetterInput& in, const std::string& actor) {
  CP_ASSIGN_OR_RETURN(PreparedLetter prepared, PrepareLetter(token, kek_label, in));
  int64_t id = 0;
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(id, StoreLetter(c, prepared, actor));
    return Status::Ok();
  });
  if (!st.ok()) return st.Wrap("queuing the PIN letter for card " + in.card_serial);
  return id;
}

Result<int64_t> QueueLetterForCard(store::Connection& tx, CryptoToken& token,
                                   const std::string& kek_label,
                                   const profiles::CardProfile& profile, int64_t request_id,
                                   const std::string& card_serial, const std::string& fields_json,
                                   const SecureString& pin, const SecureString& puk,
                                   const std::string& actor) {
  const std::string what = "PIN letter for card " + card_serial;
  std::map<std::string, std::string> fields;
  auto parsed = nlohmann::json::parse(fields_json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) {
    return InvalidInput(what + ": the fields of request " + std::to_string(request_id) +
                        " are not a JSON object");
  }
  for (const auto& [k, v] : parsed.items()) {
    if (v.is_string()) fields[k] = v.get<std::string>();
  }
  auto recipient = RecipientFromFields(profile, fields);
  if (!recipient.ok()) return recipient.status().Wrap(what);
  PinLetterInput in;
  in.request_id = request_id;
  in.card_serial = card_serial;
  in.profile = profile.name;
  in.holder_name = std::move(recipient->holder_name);
  in.postal_address = std::move(recipient->postal_address);
  in.pin = pin.Clone();
  in.puk = puk.Clone();
  CP_ASSIGN_OR_RETURN(PreparedLetter prepared, PrepareLetter(token, kek_label, in));
  auto id = StoreLetter(tx, prepared, actor);
  if (!id.ok()) return id.status().Wrap(what);
  return id;
}

namespace {

// Shred overwrites the letter file |path| with zeros and removes it (best effort against the
// blocks being read back; a journaling or copy-on-write file system may keep old blocks).
void Shred(const std::string& path, size_t size) {
  if (FILE* f = std::fopen(path.c_str(), "r+b")) {
    const std::string zeros(size, '\0');
    std::fwrite(zeros.data(), 1, zeros.size(), f);
    std::fflush(f);
    ::fsync(fileno(f));
    std::fclose(f);
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
}

// Spool runs the spooler command |command| with |path| as its last argument (through
// /bin/sh, so the command may have its own options) and waits for it: exit 0 means the
// spooler took the file.
Status Spool(const std::string& command, const std::string& path) {
  const std::string script = command + " \"$1\"";
  std::vector<std::string> args{"/bin/sh", "-c", script, "certpress-spooler", path};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv.data(), environ); rc != 0) {
    return Internal("starting the spooler '" + command + "': " + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Internal("waiting for the spooler: " + std::string(std::strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  // Not kUnavailable: RunTransaction would retry it, and the spooler might print twice.
  return Internal("the spooler '" + command + "' " +
                  (WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                     : "was killed by signal " + std::to_string(WTERMSIG(status))));
}

}  // namespace

Result<PrintedLetter> PrintLetter(store::Connection& db, CryptoToken& token, int64_t id,
                                  const PrintOptions& options) {
  const std::string what = "printing letter " + std::to_string(id);
  if (options.profiles == nullptr) return Internal(what + ": no profiles");
  if (Status st = EnsureQueueDir(options.queue_dir); !st.ok()) return st.Wrap(what);
  const std::string date = options.date.empty() ? UtcNow("%Y-%m-%d") : options.date;
  PrintedLetter printed{
      id, (std::filesystem::path(options.queue_dir) / ("pinletter-" + std::to_string(id) + ".pdf"))
              .string()};
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    // The row stays locked from here to the commit: two printers cannot both print it.
    CP_ASSIGN_OR_RETURN(store::PinLetterRecord l, store::FindPinLetter(c, id, /*for_update=*/true));
    if (l.state != store::kLetterCreated) {
      return Conflict(
          WhenDone(l) + "; its " + (IsCodeLetter(l) ? "code" : "PIN") +
          " was wiped then. Printing it again is a reprint: " + "`certpress pinletter print --id " +
          std::to_string(id) + " --reprint --operator NAME --key KEY`");
    }
    CP_ASSIGN_OR_RETURN(const profiles::CardProfile* profile, options.profiles->Card(l.profile));
    CP_ASSIGN_OR_RETURN(OpenedSecret opened, OpenSecret(token, l));
    LetterPage page;
    page.tmpl = &profile->letter;
    page.letter_id = l.id;
    page.request_id = l.request_id;
    page.card_serial = l.card_serial;
    page.profile = l.profile;
    page.holder_name = l.holder_name;
    page.address = l.address;
    page.date = date;
    if (l.kind == store::kKindActivationCode) {
      page.code = opened.pin();
    } else {
      page.pin = opened.pin();
      page.puk = opened.puk();
    }
    CP_ASSIGN_OR_RETURN(SecureString pdf, RenderLetterPdf(page));
    // Replaced if there (a rerun after a failed commit writes the same letter again); the
    // file is the owner's alone from its creation.
    CP_RETURN_IF_ERROR(WriteNewFile(printed.path, pdf.view(), 0600, /*replace=*/true));
    std::string where = "file=" + printed.path;
    if (!options.spooler.empty()) {
      // Handed to the spooler, then gone from the queue directory whatever it answered: the
      // letter is printed again (a new file) if the spooler refused it.
      Status spooled = Spool(options.spooler, printed.path);
      Shred(printed.path, pdf.size());
      CP_RETURN_IF_ERROR(spooled);
      printed.spooled = true;
      where = "spooled";
    }
    CP_RETURN_IF_ERROR(store::MarkLetterPrinted(c, id));
    if (IsCodeLetter(l)) {
      return store::AppendAudit(c, {options.actor, "pinletter.print", Object(id),
                                    "kind=activation-code request=" + std::to_string(l.request_id) +
                                        " " + where + " secret wiped"});
    }
    CP_RETURN_IF_ERROR(
        store::AppendAudit(c, {options.actor, "pinletter.print", Object(id),
                               "card=" + l.card_serial + " " + where + " secret wiped"}));
    // The card moves on with its letter (issue 13: personalized -> letter-printed), in this
    // transaction: a card is letter-printed exactly when its letter is. A card already further
    // on (a new PIN letter for an active card) stays where it is.
    return store::CardLetterPrinted(c, l.card_serial, l.request_id, options.actor).status();
  });
  if (!st.ok()) return st.Wrap(what);
  return printed;
}

Result<PrintTally> PrintAll(store::Connection& db, CryptoToken& token,
                            const PrintOptions& options) {
  PrintTally tally;
  int64_t after = 0;
  for (;;) {
    CP_ASSIGN_OR_RETURN(auto page, store::ListPinLetters(db, store::kLetterCreated, after, 200));
    if (page.empty()) break;
    for (const auto& l : page) {
      after = l.id;
      auto printed = PrintLetter(db, token, l.id, options);
      if (printed.ok()) {
        tally.printed.push_back(std::move(printed).value());
      } else {
        tally.failed.push_back(printed.status().message());
      }
    }
  }
  return tally;
}

Status ReprintLetter(store::Connection& db, int64_t id, const std::string& op, StatementKey& key) {
  CP_ASSIGN_OR_RETURN(auto found, store::FindOperator(db, op));
  if (!found) return NotFound("no registered operator named '" + op + "'");
  if (found->status != "active") return Conflict("operator " + op + " is " + found->status);
  const std::string now = UtcNow("%Y-%m-%d %H:%M:%S");
  if (found->not_after < now) {
    return Conflict("operator " + op + "'s certificate expired on " + found->not_after);
  }
  CP_ASSIGN_OR_RETURN(store::PinLetterRecord l, store::FindPinLetter(db, id));
  if (l.state == store::kLetterCreated) {
    return Conflict("letter " + std::to_string(id) +
                    " has not been printed yet: print it without --reprint");
  }
  // The operator signs what they ask for; the signature is checked against their registered
  // certificate and kept in the audit entry, so the refusal names a proven operator.
  const std::string statement = "certpress-pinletter-reprint-v1\nletter=" + std::to_string(id) +
                                "\ncard=" + l.card_serial + "\noperator=" + op + "\ntime=" + now +
                                "\n";
  CP_ASSIGN_OR_RETURN(Bytes sig, key.Sign(AsBytes(statement)));
  if (Status v = VerifyStatementSignature(AsBytes(found->cert_der), AsBytes(statement), sig);
      !v.ok()) {
    return v.Wrap("the reprint statement is not signed by operator " + op + "'s registered key");
  }
  const std::string reason =
      WhenDone(l) + (IsCodeLetter(l) ? ", and its code was wiped when it was printed"
                                     : ", and its PIN and PUK were wiped when it was printed");
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) {
    return store::AppendAudit(
        c, {op, "pinletter.reprint-refused", Object(id),
            "card=" + l.card_serial + " state=" + l.state + " reason=secret wiped at print" +
                " statement_time=" + now + " signature=" + HexEncode(sig)});
  }));
  if (IsCodeLetter(l)) {
    return Conflict(reason + ": it cannot be printed again. Void the old code with `certpress " +
                    "activation code --request " + std::to_string(l.request_id) +
                    " --letter`, which queues a letter with a new one; this refusal is audited");
  }
  return Conflict(reason + ": it cannot be printed again. Reset the card's PIN instead (with its " +
                  "PUK, or at a station), which queues a new letter; this refusal is audited");
}

Status MarkMailed(store::Connection& db, int64_t id, const std::string& actor) {
  return store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_RETURN_IF_ERROR(store::MarkLetterMailed(c, id));
    return store::AppendAudit(c, {actor, "pinletter.mail", Object(id), "mailed"});
  });
}

Result<SecureString> SampleLetter(const profiles::CardProfile& profile,
                                  const LetterRecipient& recipient) {
  LetterPage page;
  page.tmpl = &profile.letter;
  page.letter_id = 1234;
  page.request_id = 5678;
  page.card_serial = "10293847";
  page.profile = profile.name;
  page.holder_name = "Zoë Łukasiewicz-Ångström";
  page.address = {"Hauptstraße 5", "80331 München", "GERMANY"};
  if (!recipient.holder_name.empty() || !recipient.postal_address.empty()) {
    PinLetterInput in;
    in.request_id = page.request_id;
    in.card_serial = page.card_serial;
    in.profile = profile.name;
    in.holder_name = recipient.holder_name;
    in.postal_address = recipient.postal_address;
    in.pin = SecureString("123456");  // checked for its form only
    CP_RETURN_IF_ERROR(CheckLetterInput(in));
    page.holder_name = recipient.holder_name;
    page.address = recipient.postal_address;
  }
  page.date = UtcNow("%Y-%m-%d");
  if (profile.delivery == profiles::Delivery::kActivationEmail &&
      profile.activation.code == profiles::CodeChannel::kLetter) {
    page.card_serial.clear();
    page.code = "7K3QX-M9P2D";  // made up, in the form of a real code
  } else {
    page.pin = "123456";
    page.puk = "12345678";
  }
  page.sample = true;
  return RenderLetterPdf(page);
}

}  // namespace certpress::kgs
