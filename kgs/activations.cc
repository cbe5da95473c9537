#include "kgs/activations.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <nlohmann/json.hpp>

#include "kgs/sealed_keys.h"
#include "kgs/token_keys.h"
#include "store/audit.h"

namespace certpress::kgs {

namespace {

constexpr std::string_view kActivationKeyAad = "certpress-activation-key-v1";
constexpr std::string_view kLinkLabel = "certpress-activation-link-v1";
constexpr std::string_view kCodeLabel = "certpress-activation-code-v1";
constexpr size_t kLinkBytes = 32;  // 256 bits: at least the 128 the brief asks, with room
constexpr size_t kLinkChars = 43;  // base64url of 32 bytes, unpadded
constexpr size_t kCodeChars = 10;  // 50 bits
// Crockford's base32 (no I, L, O, U): codes are read off a screen or paper and typed.
constexpr std::string_view kCodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const char* const kInvalidLink = "this activation link is not valid";

// Base64Url encodes without padding (RFC 4648 section 5): safe in a URL path.
std::string Base64Url(ByteSpan in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

bool LooksLikeLink(std::string_view token) {
  if (token.size() != kLinkChars) return false;
  for (char ch : token) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
    if (!ok) return false;
  }
  return true;
}

ActivationState StateOf(const store::ActivationRow& row) {
  const std::string& s = row.state;
  if (s == store::kActQueued) return ActivationState::kQueued;
  if (s == store::kActUsed) return ActivationState::kUsed;
  if (s == store::kActLocked) return ActivationState::kLocked;
  if (s == store::kActVoid) return ActivationState::kVoid;
  if (s == store::kActUndelivered) return ActivationState::kUndelivered;
  if (row.expired) return ActivationState::kExpired;
  return s == store::kActOpened ? ActivationState::kOpened : ActivationState::kSent;
}

bool Live(ActivationState s) {
  return s == ActivationState::kSent || s == ActivationState::kOpened;
}

Activation ViewOf(const store::ActivationRow& row) {
  Activation a;
  a.id = row.id;
  a.request_id = row.request_id;
  a.profile = row.profile;
  a.holder_name = row.recipient_name;
  a.recipient = row.recipient_email;
  a.state = StateOf(row);
  a.code_required = row.code_needed;
  a.expires_at = row.expires_at;
  a.attempts_left = std::max(0, row.max_attempts - row.attempts);
  return a;
}

std::string CodeInput(int64_t request_id, std::string_view normalized) {
  return std::to_string(request_id) + ":" + std::string(normalized);
}

std::string Object(int64_t activation_id) {
  return "activation:" + std::to_string(activation_id);
}

std::string RandomHex(size_t bytes) {
  Bytes b(bytes);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return {};
  return HexEncode(b);
}

}  // namespace

// ---- ActivationKeys ----

Result<std::shared_ptr<const ActivationKeys>> ActivationKeys::Load(store::Connection& db,
                                                                   CryptoToken& token,
                                                                   const std::string& kek_label,
                                                                   bool create) {
  CP_ASSIGN_OR_RETURN(auto wrapped, store::ListActivationKeys(db));
  if (wrapped.empty() && create) {
    CP_RETURN_IF_ERROR(
        EnsureTokenKey(db, token, kek_label, TokenKeyKind::kAesKek).Wrap("key encryption key"));
    CP_ASSIGN_OR_RETURN(WrappedKey drawn, DrawWrappedKey(token, kek_label, kActivationKeyAad));
    const Bytes& w = drawn.wrapped;
    CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(int64_t id, store::StoreActivationKey(c, kek_label, w));
      return store::AppendAudit(c, {"system", "activation.key-created",
                                    "activation-key:" + std::to_string(id), "kek=" + kek_label});
    }));
    CP_ASSIGN_OR_RETURN(wrapped, store::ListActivationKeys(db));
  }
  if (wrapped.empty()) return NotFound("no activation key yet");
  auto ring = std::shared_ptr<ActivationKeys>(new ActivationKeys());
  for (const auto& k : wrapped) {
    auto key = token.SecretDecrypt(k.kek_label, AsBytes(k.wrapped), AsBytes(kActivationKeyAad));
    if (!key.ok()) return key.status().Wrap("unwrapping activation key " + std::to_string(k.id));
    ring->keys_.emplace(k.id, std::move(key).value());
    ring->current_id_ = k.id;  // the newest makes new links and codes
  }
  return std::shared_ptr<const ActivationKeys>(std::move(ring));
}

std::shared_ptr<const ActivationKeys> ActivationKeys::ForTest(
    std::map<int64_t, SecureString> keys) {
  auto ring = std::shared_ptr<ActivationKeys>(new ActivationKeys());
  ring->keys_ = std::move(keys);
  if (!ring->keys_.empty()) ring->current_id_ = ring->keys_.rbegin()->first;
  return ring;
}

std::string ActivationKeys::Mac(int64_t key_id, std::string_view label,
                                std::string_view data) const {
  auto it = keys_.find(key_id);
  if (it == keys_.end()) return {};
  std::string msg;
  msg.reserve(label.size() + 1 + data.size());
  msg.append(label).push_back(':');
  msg.append(data);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // RFC 2104 HMAC with SHA-256.
  const bool ok =
      HMAC(EVP_sha256(), it->second.str().data(), static_cast<int>(it->second.size()),
           reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len) != nullptr;
  OPENSSL_cleanse(msg.data(), msg.size());
  if (!ok) return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::vector<std::string> ActivationKeys::LinkMacs(std::string_view link_token) const {
  std::vector<std::string> out;
  for (const auto& [id, key] : keys_) out.push_back(Mac(id, kLinkLabel, link_token));
  return out;
}

// ---- Issuance ----

Result<store::NewActivation> RenderActivation(const profiles::CardProfile& profile,
                                              int64_t request_id,
                                              const std::map<std::string, std::string>& fields) {
  const profiles::ActivationSpec& spec = profile.activation;
  // Every declared field renders, empty where the request left it out.
  std::map<std::string, std::string> all;
  for (const auto& f : profile.fields) all[f.name] = "";
  for (const auto& [k, v] : fields) all[k] = v;
  store::NewActivation a;
  a.request_id = request_id;
  a.profile = profile.name;
  CP_ASSIGN_OR_RETURN(a.recipient_email, profiles::RenderTemplate(spec.recipient, all));
  if (a.recipient_email.empty() || a.recipient_email.find('@') == std::string::npos) {
    return InvalidInput("request " + std::to_string(request_id) +
                        ": no email address to send its activation to");
  }
  if (!spec.name.empty()) {
    CP_ASSIGN_OR_RETURN(a.recipient_name, profiles::RenderTemplate(spec.name, all));
  }
  a.code_needed = spec.code != profiles::CodeChannel::kNone;
  if (a.code_needed) a.code_channel = std::string(profiles::CodeChannelName(spec.code));
  a.validity_seconds = spec.validity_seconds;
  a.max_attempts = spec.max_attempts;
  return a;
}

Result<DrawnCode> DrawCode(const ActivationKeys& keys, int64_t request_id) {
  unsigned char rnd[kCodeChars];
  if (RAND_bytes(rnd, sizeof rnd) != 1) return Internal("RAND_bytes failed");
  std::string code;
  code.reserve(kCodeChars + 1);
  // 32 symbols: the low 5 bits of each random byte are uniform.
  for (unsigned char b : rnd) code.push_back(kCodeAlphabet[b & 0x1f]);
  OPENSSL_cleanse(rnd, sizeof rnd);
  DrawnCode out;
  out.key_id = keys.current_id();
  out.hmac = keys.Mac(out.key_id, kCodeLabel, CodeInput(request_id, code));
  if (out.hmac.empty()) {
    OPENSSL_cleanse(code.data(), code.size());
    return Internal("no current activation key");
  }
  code.insert(5, 1, '-');
  out.formatted = SecureString(std::move(code));
  return out;
}

namespace {

// FieldsOf reads a request's fields (a JSON object of strings; anything else reads as none).
std::map<std::string, std::string> FieldsOf(const std::string& json) {
  std::map<std::string, std::string> fields;
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.value().is_string()) fields[it.key()] = it.value().get<std::string>();
    }
  }
  return fields;
}

// PlanCodeLetter draws request |id|'s code onto |a| and renders its letter.
Result<CodeLetter> PlanCodeLetter(const profiles::CardProfile& p, int64_t id,
                                  const std::map<std::string, std::string>& fields,
                                  const ActivationKeys& keys, store::NewActivation* a) {
  const std::string what = "request " + std::to_string(id) + ": the activation-code letter";
  auto recipient = RecipientFromFields(p, fields);
  if (!recipient.ok()) return recipient.status().Wrap(what);
  if (Status st = CheckRecipient(recipient->holder_name, recipient->postal_address); !st.ok()) {
    return st.Wrap(what);
  }
  CP_ASSIGN_OR_RETURN(DrawnCode code, DrawCode(keys, id));
  a->code_hmac = std::move(code.hmac);
  a->code_key_id = code.key_id;
  CodeLetter letter;
  letter.request_id = id;
  letter.profile = p.name;
  letter.holder_name = std::move(recipient->holder_name);
  letter.postal_address = std::move(recipient->postal_address);
  letter.code = std::move(code.formatted);
  return letter;
}

}  // namespace

Result<PlannedActivations> PlanActivations(
    store::Connection& conn,
    const std::vector<std::pair<int64_t, const profiles::CardProfile*>>& issued,
    const ActivationKeys* keys) {
  PlannedActivations plan;
  std::vector<int64_t> ids;
  for (const auto& [id, p] : issued) {
    if (p != nullptr && p->delivery == profiles::Delivery::kActivationEmail) ids.push_back(id);
  }
  if (ids.empty()) return plan;
  CP_ASSIGN_OR_RETURN(auto fields_json, store::RequestFieldsJson(conn, ids));
  for (const auto& [id, p] : issued) {
    if (p == nullptr || p->delivery != profiles::Delivery::kActivationEmail) continue;
    const std::map<std::string, std::string> fields = FieldsOf(fields_json[id]);
    auto a = RenderActivation(*p, id, fields);
    if (!a.ok()) {
      plan.failed.emplace(id, a.status());
      continue;
    }
    if (p->activation.code == profiles::CodeChannel::kLetter) {
      if (keys == nullptr) {
        plan.failed.emplace(id, Internal("request " + std::to_string(id) +
                                         ": no activation keys to draw its letter's code"));
        continue;
      }
      auto letter = PlanCodeLetter(*p, id, fields, *keys, &*a);
      if (!letter.ok()) {
        plan.failed.emplace(id, letter.status());
        continue;
      }
      plan.letters.push_back(std::move(letter).value());
    }
    plan.rows.push_back(std::move(a).value());
  }
  return plan;
}

Status QueueActivations(store::Connection& conn, const std::vector<store::NewActivation>& rows) {
  if (rows.empty()) return Status::Ok();
  const std::string salt = RandomHex(8);
  if (salt.empty()) return Internal("RAND_bytes failed");
  return store::QueueActivations(conn, rows, salt);
}

// ---- Pickup ----

std::string_view ActivationStateName(ActivationState s) {
  switch (s) {
    case ActivationState::kQueued:
      return "queued";
    case ActivationState::kSent:
      return "sent";
    case ActivationState::kOpened:
      return "opened";
    case ActivationState::kUsed:
      return "used";
    case ActivationState::kExpired:
      return "expired";
    case ActivationState::kLocked:
      return "locked";
    case ActivationState::kVoid:
      return "void";
    case ActivationState::kUndelivered:
      return "undelivered";
  }
  return "unknown";
}

std::string_view RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kInvalidLink:
      return "invalid-link";
    case Refusal::kWrongCode:
      return "wrong-code";
    case Refusal::kLocked:
      return "locked";
  }
  return "unknown";
}

Result<Activation> FindActivation(store::Connection& db, const ActivationKeys& keys,
                                  std::string_view link_token, bool mark_opened,
                                  const std::string& actor, KnownLink* known) {
  if (known != nullptr) *known = KnownLink{};
  if (!LooksLikeLink(link_token)) return NotFound(kInvalidLink);
  const std::vector<std::string> macs = keys.LinkMacs(link_token);
  Activation out;
  bool found = false;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    found = false;
    if (known != nullptr) *known = KnownLink{};
    CP_ASSIGN_OR_RETURN(auto row, store::FindActivationByToken(c, macs, mark_opened));
    if (!row) return Status::Ok();
    if (!Live(StateOf(*row))) {
      if (known != nullptr) {
        *known = KnownLink{row->id, std::string(ActivationStateName(StateOf(*row)))};
      }
      return Status::Ok();
    }
    found = true;
    out = ViewOf(*row);
    if (mark_opened && row->state == store::kActSent) {
      CP_RETURN_IF_ERROR(store::SetActivationState(c, row->id, store::kActOpened));
      CP_RETURN_IF_ERROR(store::AppendAudit(c, {actor, "activation.open", Object(row->id),
                                                "request=" + std::to_string(row->request_id)}));
      out.state = ActivationState::kOpened;
    }
    return Status::Ok();
  }));
  if (!found) return NotFound(kInvalidLink);
  return out;
}

Result<Redemption> Redeem(store::Connection& db, const ActivationKeys& keys,
                          std::string_view link_token, std::string_view code,
                          const std::string& actor, const Deliver& deliver) {
  const bool well_formed = LooksLikeLink(link_token);
  const std::vector<std::string> macs =
      well_formed ? keys.LinkMacs(link_token) : std::vector<std::string>{};
  std::string typed = NormalizeCode(code);
  Redemption red;
  Status st = store::RunTransaction(db, [&](store::Connection& c) -> Status {
    red = Redemption{};
    // Locked until commit: concurrent redemptions of one link queue here, and each sees the
    // state the one before it left.
    CP_ASSIGN_OR_RETURN(auto row, store::FindActivationByToken(c, macs, true));
    if (!row) {
      // No activation has this token: nothing of ours changed, so nothing is audited (the
      // caller logs it); auditing it would let anyone grow the log and queue on its head.
      red.refusal = Refusal::kInvalidLink;
      return Status::Ok();
    }
    const ActivationState state = StateOf(*row);
    if (!Live(state)) {
      red.refusal = state == ActivationState::kLocked ? Refusal::kLocked : Refusal::kInvalidLink;
      return store::AppendAudit(c, {actor, "activation.refused", Object(row->id),
                                    "request=" + std::to_string(row->request_id) +
                                        " reason=" + std::string(ActivationStateName(state))});
    }
    if (row->code_needed) {
      // The MAC is computed and compared whether or not a code was ever minted, so the time
      // taken does not tell; CRYPTO_memcmp takes the same time wherever the bytes differ.
      std::string want = row->code_hmac;
      std::string got = keys.Mac(row->code_set ? row->code_key_id : keys.current_id(), kCodeLabel,
                                 CodeInput(row->request_id, typed));
      want.resize(32, '\0');
      got.resize(32, '\1');
      const bool match =
          row->code_set && !typed.empty() && CRYPTO_memcmp(want.data(), got.data(), 32) == 0;
      if (!match) {
        CP_ASSIGN_OR_RETURN(int n, store::CountWrongAttempt(c, row->id));
        red.attempts_left = std::max(0, row->max_attempts - n);
        const std::string details = "request=" + std::to_string(row->request_id) +
                                    " attempts=" + std::to_string(n) + "/" +
                                    std::to_string(row->max_attempts);
        if (n >= row->max_attempts) {
          red.refusal = Refusal::kLocked;
          CP_RETURN_IF_ERROR(store::SetActivationState(c, row->id, store::kActLocked));
          CP_RETURN_IF_ERROR(store::AppendAudit(
              c, {actor, "activation.refused", Object(row->id), details + " reason=wrong-code"}));
          return store::AppendAudit(c, {actor, "activation.lock", Object(row->id), details});
        }
        red.refusal = Refusal::kWrongCode;
        return store::AppendAudit(
            c, {actor, "activation.refused", Object(row->id), details + " reason=wrong-code"});
      }
    }
    CP_RETURN_IF_ERROR(store::SetActivationState(c, row->id, store::kActUsed));
    red.ok = true;
    red.activation = ViewOf(*row);
    red.activation.state = ActivationState::kUsed;
    // Delivery (a PKCS#12: key derivations of most of a second) runs before the audit entry:
    // an append locks the audit head, the one row every audited change of the system takes,
    // and holding it across the derivations queued every pickup and batch behind each other.
    if (deliver) {
      Status d = deliver(c, red.activation);
      if (!d.ok()) return d.Wrap("delivering activation " + std::to_string(row->id));
    }
    return store::AppendAudit(c, {actor, "activation.pickup", Object(row->id),
                                  "request=" + std::to_string(row->request_id)});
  });
  OPENSSL_cleanse(typed.data(), typed.size());
  if (!st.ok()) return st;
  return red;
}

// ---- Operator and mailer side ----

Result<MintedLink> MintLink(store::Connection& db, const ActivationKeys& keys,
                            int64_t activation_id) {
  SecureString raw;
  {
    std::string bytes(kLinkBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), kLinkBytes) != 1) {
      return Internal("RAND_bytes failed");
    }
    raw = SecureString(std::move(bytes));
  }
  MintedLink out;
  out.token = SecureString(Base64Url(AsBytes(raw.view())));
  const std::string mac = keys.Mac(keys.current_id(), kLinkLabel, out.token.view());
  if (mac.empty()) return Internal("no current activation key");
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_RETURN_IF_ERROR(store::SetActivationLink(c, activation_id, keys.current_id(), mac));
    CP_ASSIGN_OR_RETURN(auto row, store::FindActivationById(c, activation_id, false));
    if (!row) return NotFound("activation " + std::to_string(activation_id));
    out.expires_at = row->expires_at;
    return Status::Ok();
  }));
  return out;
}

std::string NormalizeCode(std::string_view typed) {
  std::string out;
  for (char ch : typed) {
    if (ch == ' ' || ch == '-' || ch == '\t') continue;
    if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    if (ch == 'O') ch = '0';
    if (ch == 'I' || ch == 'L') ch = '1';
    out.push_back(ch);
  }
  return out;
}

Result<SecureString> MintCode(store::Connection& db, const ActivationKeys& keys, int64_t request_id,
                              const std::string& actor) {
  CP_ASSIGN_OR_RETURN(DrawnCode code, DrawCode(keys, request_id));
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    // A code that goes by post is never shown (the letter is its one channel), whatever
    // profiles the caller loaded: the channel was stored with the activation.
    CP_ASSIGN_OR_RETURN(
        bool by_letter,
        store::HasCodeChannel(c, request_id,
                              profiles::CodeChannelName(profiles::CodeChannel::kLetter)));
    if (by_letter) {
      return Conflict("request " + std::to_string(request_id) +
                      " has its activation code sent by letter, so it is never shown; to "
                      "replace a lost letter: `certpress activation code --request " +
                      std::to_string(request_id) + " --letter`");
    }
    CP_ASSIGN_OR_RETURN(int64_t n, store::SetActivationCode(c, request_id, code.key_id, code.hmac));
    if (n == 0) {
      return Conflict("request " + std::to_string(request_id) +
                      " has no live activation that needs a code");
    }
    return store::AppendAudit(c, {actor, "activation.code", "request:" + std::to_string(request_id),
                                  "a new activation code was shown"});
  }));
  return std::move(code.formatted);
}

Result<int64_t> NewCodeLetter(store::Connection& db, CryptoToken& token,
                              const std::string& kek_label, const ActivationKeys& keys,
                              const profiles::CardProfile& profile, int64_t request_id,
                              const std::string& actor) {
  CP_ASSIGN_OR_RETURN(auto fields_json, store::RequestFieldsJson(db, {request_id}));
  if (!fields_json.count(request_id)) {
    return NotFound("no request " + std::to_string(request_id));
  }
  store::NewActivation a;
  CP_ASSIGN_OR_RETURN(
      CodeLetter letter,
      PlanCodeLetter(profile, request_id, FieldsOf(fields_json[request_id]), keys, &a));
  std::vector<CodeLetter> letters;
  letters.push_back(std::move(letter));
  CP_ASSIGN_OR_RETURN(CodeLetterKey key, CodeLetterKey::Draw(token, kek_label));
  int64_t id = 0;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    CP_ASSIGN_OR_RETURN(int64_t n,
                        store::SetActivationCode(c, request_id, *a.code_key_id, *a.code_hmac));
    if (n == 0) {
      return Conflict("request " + std::to_string(request_id) +
                      " has no live activation that needs a code");
    }
    // The old letter, if still unprinted, goes: its code no longer works.
    CP_RETURN_IF_ERROR(store::VoidUnprintedLetters(c, request_id, store::kKindActivationCode));
    store::AuditEvent created;
    CP_ASSIGN_OR_RETURN(auto ids, StoreCodeLetters(c, key, letters, actor, &created));
    id = ids.front();
    CP_RETURN_IF_ERROR(store::AppendAudit(c, created));
    return store::AppendAudit(c,
                              {actor, "activation.code", "request:" + std::to_string(request_id),
                               "a new activation code was queued by letter " + std::to_string(id)});
  }));
  return id;
}

Result<Resent> Resend(store::Connection& db, int64_t request_id, const std::string& actor,
                      const ResendCodes& codes) {
  Resent out;
  const std::string salt = RandomHex(8);
  if (salt.empty()) return Internal("RAND_bytes failed");
  const std::string request = "request " + std::to_string(request_id);
  // Drawn before the transaction (RAND_bytes and one HMAC), used only if the activation turns
  // out to be locked and its profile has the operator pass the code on.
  std::optional<DrawnCode> drawn;
  if (codes.keys != nullptr) {
    CP_ASSIGN_OR_RETURN(DrawnCode d, DrawCode(*codes.keys, request_id));
    drawn = std::move(d);
  }
  const profiles::CardProfile* letter_profile = nullptr;
  CP_RETURN_IF_ERROR(store::RunTransaction(db, [&](store::Connection& c) -> Status {
    out.activation_id = 0;
    out.new_code = false;
    letter_profile = nullptr;
    CP_ASSIGN_OR_RETURN(auto old, store::LatestActivation(c, request_id, true));
    if (!old) return NotFound(request + " has no activation");
    if (old->state == store::kActUsed) return Conflict(request + " was already picked up");
    const bool locked = old->state == store::kActLocked && old->code_needed;
    bool by_letter = false;
    if (locked) {
      const profiles::CardProfile* p = nullptr;
      if (codes.profiles != nullptr) {
        auto found = codes.profiles->Card(old->profile);
        if (found.ok()) p = *found;
      }
      if (codes.keys == nullptr || p == nullptr) {
        return InvalidInput(request + "'s activation is locked after too many wrong codes: its " +
                            "resend needs a new code, and profile " + old->profile +
                            " or the activation keys are not at hand");
      }
      by_letter = p->activation.code == profiles::CodeChannel::kLetter;
      if (by_letter && codes.token == nullptr) {
        return InvalidInput(request + "'s activation is locked and its profile " + p->name +
                            " posts codes: the new code's letter needs the token");
      }
      if (by_letter) letter_profile = p;
    }
    CP_RETURN_IF_ERROR(store::SetActivationState(c, old->id, store::kActVoid));
    CP_RETURN_IF_ERROR(store::VoidMails(c, "activation", old->id));
    store::NewActivation a;
    a.request_id = request_id;
    a.profile = old->profile;
    a.recipient_email = old->recipient_email;
    a.recipient_name = old->recipient_name;
    a.code_needed = old->code_needed;
    a.code_channel = old->code_channel;
    a.validity_seconds = old->validity_seconds;
    a.max_attempts = old->max_attempts;
    if (locked) {
      // A new code: the operator's now (drawn above), the letter's after this transaction
      // (until it is queued the new activation has no code, so no code opens its link).
      out.new_code = true;
      if (!by_letter) {
        a.code_hmac = drawn->hmac;
        a.code_key_id = drawn->key_id;
      }
    } else if (old->code_set) {
      a.code_hmac = old->code_hmac;
      a.code_key_id = old->code_key_id;
      a.attempts = old->attempts;
    }
    CP_RETURN_IF_ERROR(store::QueueActivations(c, std::span(&a, 1), salt));
    CP_ASSIGN_OR_RETURN(auto now, store::LatestActivation(c, request_id, false));
    if (!now) return Internal("the new activation is missing");
    out.activation_id = now->id;
    CP_RETURN_IF_ERROR(store::AppendAudit(
        c, {actor, "activation.resend", Object(now->id),
            "request=" + std::to_string(request_id) + " replaces=" + std::to_string(old->id) +
                (locked ? " new-code (the old activation was locked)" : "")}));
    if (locked && !by_letter) {
      return store::AppendAudit(
          c, {actor, "activation.code", "request:" + std::to_string(request_id),
              "a new activation code was shown for the resend of a locked activation"});
    }
    return Status::Ok();
  }));
  if (out.new_code && letter_profile == nullptr) out.code = std::move(drawn->formatted);
  if (letter_profile != nullptr) {
    CP_ASSIGN_OR_RETURN(out.letter_id, NewCodeLetter(db, *codes.token, codes.kek_label, *codes.keys,
                                                     *letter_profile, request_id, actor));
  }
  return out;
}

Result<std::vector<store::ActivationListing>> ListActivations(store::Connection& db,
                                                              int64_t request_id) {
  return store::ListActivations(db, request_id);
}

}  // namespace certpress::kgs
