#include "kgs/personalize.h"

#include <openssl/rand.h>

#include <algorithm>
#include <ctime>

#include "ca/authorities.h"
#include "ca/issuance.h"
#include "ca/ledger.h"
#include "ca/sans.h"
#include "kgs/piv.h"
#include "kgs/sealed_keys.h"
#include "kgs/tlv.h"
#include "store/audit.h"
#include "store/cards.h"
#include "store/certificates.h"
#include "store/requests.h"

namespace certpress::kgs {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// TimedTransport adds up the time spent waiting for the card: card I/O and on-card work, the
// part of a card's time that is not the station's own.
class TimedTransport final : public CardTransport {
 public:
  explicit TimedTransport(CardTransport& inner) : inner_(inner) {}
  RawResponse Transmit(ByteSpan command) override {
    const auto t0 = Clock::now();
    RawResponse r = inner_.Transmit(command);
    spent_ += Clock::now() - t0;
    return r;
  }
  Result<Bytes> Reconnect() override {
    const auto t0 = Clock::now();
    auto r = inner_.Reconnect();
    spent_ += Clock::now() - t0;
    return r;
  }
  bool ExtendedLength() const override { return inner_.ExtendedLength(); }
  double seconds() const { return Seconds(spent_); }

 private:
  CardTransport& inner_;
  Clock::duration spent_{};
};

// The factory values of a PIV card as Yubico ships them (and yubico-piv-tool assumes): the
// management key 01 02 ... 08 repeated, PIN 123456, PUK 12345678.
Bytes FactoryManagementKey(size_t length) {
  Bytes key(length);
  for (size_t i = 0; i < length; ++i) key[i] = static_cast<uint8_t>(i % 8 + 1);
  return key;
}
constexpr char kFactoryPin[] = "123456";
constexpr char kFactoryPuk[] = "12345678";
// The largest certificate a YubiKey data object takes uncompressed (3,052 bytes per object,
// less the 70/71/FE and 53 wrappers); larger ones are gzip-compressed (CertInfo 01).
constexpr size_t kMaxPlainCertificate = 2900;

struct SlotWork {
  const profiles::KeySpec* spec = nullptr;
  PivSlot slot = PivSlot::kAuthentication;
  KeyType type = KeyType::kEcP256;
  Bytes spki;
  UniquePtr<EVP_PKEY> server_key;  // archived keys only, until sealed
  std::string sealed;
  Bytes der;
  std::string serial_hex;
};

std::string ExpiryDate(int years) {
  const time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  tm.tm_year += years;
  char buf[16];
  strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

class Personalization {
 public:
  Personalization(const PersonalizeOptions& opt, ApduChannel& ch, store::Connection& db,
                  CryptoToken& token, IssuerCache& issuers, CardOutcome& out)
      : opt_(opt),
        profile_(*opt.profile),
        ch_(ch),
        piv_(ch),
        db_(db),
        token_(token),
        issuers_(issuers),
        out_(out) {}

  // Run takes the card from SELECT to personalized, or fails it.
  void Run(const Bytes& atr, const std::string& reader) {
    Status st = Take(atr, reader);
    if (!st.ok() || out_.skipped) {
      out_.status = st;
      return;
    }
    st = Personalize();
    if (st.ok()) st = Finish();
    if (!st.ok()) Fail(st);
    out_.status = st;
  }

 private:
  Status Take(const Bytes& atr, const std::string& reader) {
    CP_RETURN_IF_ERROR(piv_.Select());
    auto serial = piv_.Serial();
    if (serial.ok()) {
      out_.serial = std::to_string(*serial);
    } else if (serial.status().kind() == ErrorKind::kNotFound) {
      // No GET SERIAL: a GUID already in the card's CHUID names it.
      auto chuid = piv_.GetData(kChuidTag);
      if (!chuid.ok()) return CardError("the card has no serial number and no CHUID");
      CP_ASSIGN_OR_RETURN(auto guid, ChuidGuid(*chuid));
      out_.serial = "guid-" + HexEncode(guid);
    } else {
      return serial.status();
    }
    if (opt_.card_serial && *opt_.card_serial != out_.serial) {
      out_.skipped = true;
      return Status::Ok();
    }
    store::NewCard card{out_.serial, atr, profile_.name, opt_.station, reader};
    CP_RETURN_IF_ERROR(Admit(&card.factory_reset));
    auto req = store::BeginCard(db_, card, opt_.request_id, opt_.claimer, opt_.lease_seconds,
                                opt_.actor, &out_.card_id);
    if (!req.ok()) {
      out_.skipped = req.status().kind() == ErrorKind::kNotFound;
      return req.status();
    }
    req_ = std::move(req).value();
    out_.request_id = req_.id;
    // A reset under us: reconnect (the channel), reselect, check it is the same card and
    // authenticate again with the management key it has now.
    ch_.SetRecovery([this](const Bytes&) -> Status {
      CP_RETURN_IF_ERROR(piv_.Select());
      auto again = piv_.Serial();
      if (again.ok() && std::to_string(*again) != out_.serial) {
        return CardError("after a reset the reader holds another card (" + std::to_string(*again) +
                         ")");
      }
      if (!again.ok() && again.status().kind() != ErrorKind::kNotFound) return again.status();
      if (!mgm_key_.empty()) return piv_.Authenticate(mgm_alg_, AsBytes(mgm_key_.view()));
      return Status::Ok();
    });
    return Status::Ok();
  }

  // Admit decides, before anything is claimed in the store or written to the card, whether
  // this card may be personalized. A card personalized for someone (a live personalization of
  // its serial) is refused as it is: taking it would overwrite its holder's keys; only once it
  // was reset (factory management key and PIN) may it be taken again (|factory_reset|). A card
  // the station itself left half-done (an earlier personalization of its serial that failed or
  // was abandoned) has a PIN only that run knew: it is reset first (Wipe). Any other card whose
  // PIN or management key is not the factory one is refused, no PIN tried.
  Status Admit(bool* factory_reset) {
    CP_ASSIGN_OR_RETURN(auto history, store::CardsBySerial(db_, out_.serial));
    const store::CardRecord* live = nullptr;
    for (const auto& c : history) {
      if (c.state == store::kCardPersonalized || c.state == store::kCardLetterPrinted ||
          c.state == store::kCardActive) {
        live = &c;
      }
    }
    // GET METADATA (Yubico 5.3+) says whether PIN and management key are the factory ones;
    // without it, whether the factory management key authenticates (ours never is).
    CP_ASSIGN_OR_RETURN(auto pin_meta, piv_.Metadata(kPinRef));
    CP_ASSIGN_OR_RETURN(auto mgm_meta, piv_.Metadata(kManagementKeyRef));
    std::optional<bool> pin_factory;
    if (pin_meta && pin_meta->is_default) pin_factory = *pin_meta->is_default;
    bool mgm_factory = false;
    if (mgm_meta && mgm_meta->is_default) {
      mgm_factory = *mgm_meta->is_default;
    } else {
      CP_ASSIGN_OR_RETURN(mgm_factory, FactoryKeyWorks(mgm_meta));
    }
    const bool factory = mgm_factory && pin_factory.value_or(true);
    if (live != nullptr) {
      if (!factory) {
        return Conflict("card " + out_.serial + " is already personalized for request " +
                        std::to_string(live->request_id) + " (state " + live->state +
                        "); reset it first (nothing on the card was changed)");
      }
      *factory_reset = true;
      return Status::Ok();
    }
    if (factory) return Status::Ok();
    if (!history.empty()) {
      wipe_ = true;
      return Status::Ok();
    }
    if (pin_factory && !*pin_factory) {
      return Conflict(
          "the card's PIN is not the factory PIN (reset the card's PIV application before "
          "personalizing it); no PIN was tried");
    }
    return LoginRefused(
        "the card's management key is not the factory key (reset the card's PIV application "
        "before personalizing it)");
  }

  // FactoryKeyWorks tries the factory management key (a refused key costs no try on a PIV
  // card: the management key has no retry counter).
  Result<bool> FactoryKeyWorks(const std::optional<KeyMetadata>& meta) {
    CP_ASSIGN_OR_RETURN(PivAlg factory, ManagementAlg(profile_.piv.factory_management_key));
    PivAlg now = factory;
    if (meta && meta->algorithm) now = static_cast<PivAlg>(*meta->algorithm);
    Status st = piv_.Authenticate(now, FactoryManagementKey(ManagementKeyLength(now)));
    if (st.ok()) return true;
    if (st.kind() == ErrorKind::kLoginRefused) return false;
    return st;
  }

  // The card is locked down before anything of value goes on it: PIN, PUK and their retry
  // counters, then its own management key, and only then keys and certificates. A card pulled
  // out (or failing) at any later step holds its holder's certificate behind a PIN nobody but
  // the letter will know, never behind the factory PIN 123456.
  Status Personalize() {
    if (AsString(ByteSpan(profile_.content_hash)) != req_.profile_hash) {
      return InvalidInput("profile '" + profile_.name + "' changed since request " +
                          std::to_string(req_.id) + " was made");
    }
    if (wipe_) CP_RETURN_IF_ERROR(Wipe().Wrap("resetting the card this station left half-done"));
    CP_RETURN_IF_ERROR(ManagementKey().Wrap("management key"));
    CP_RETURN_IF_ERROR(PinAndPuk().Wrap("PIN and PUK"));
    CP_RETURN_IF_ERROR(ReplaceManagementKey().Wrap("replacing the management key"));
    CP_RETURN_IF_ERROR(Hold());
    CP_RETURN_IF_ERROR(Keys());
    CP_RETURN_IF_ERROR(Hold());
    CP_RETURN_IF_ERROR(Certificates());
    CP_RETURN_IF_ERROR(Hold());
    CP_RETURN_IF_ERROR(Identifiers().Wrap("CHUID and CCC"));
    return Checks().Wrap("checking the card");
  }

  // Hold checks that this station still holds the card's request (fence unchanged, card still
  // personalizing) and renews the lease, between steps: a station whose lease ran out and whose
  // request another station took stops here instead of issuing on.
  Status Hold() {
    return store::RunTransaction(db_, [&](store::Connection& c) {
      return store::HoldCard(c, out_.card_id, req_.id, req_.fence, opt_.claimer,
                             opt_.lease_seconds);
    });
  }

  // Wipe resets a card an earlier run of this station left half-done (its certificates were
  // revoked when it failed): Yubico RESET takes a card only with PIN and PUK blocked, so both
  // are blocked with wrong values first (at most 255 tries each, the largest counter).
  Status Wipe() {
    for (int i = 0; i < 256; ++i) {
      CP_ASSIGN_OR_RETURN(int left, piv_.RetriesLeft(kPinRef));
      if (left == 0) break;
      if (left < 0) CP_RETURN_IF_ERROR(piv_.ForgetPin());
      CP_ASSIGN_OR_RETURN(SecureString wrong, RandomDigits(8));
      Status st = piv_.Verify(kPinRef, wrong);
      if (!st.ok() && st.kind() != ErrorKind::kLoginRefused) return st.Wrap("blocking the PIN");
    }
    for (int i = 0; i < 256; ++i) {
      CP_ASSIGN_OR_RETURN(SecureString wrong, RandomDigits(8));
      Status st = piv_.ChangeReference(kPukRef, wrong, wrong);
      if (st.ok()) continue;  // 1 in 10^8: that was the PUK (and it still is)
      if (st.kind() != ErrorKind::kLoginRefused) return st.Wrap("blocking the PUK");
      if (st.message().find("6983") != std::string::npos ||
          st.message().find("63C0") != std::string::npos) {
        break;
      }
    }
    CP_RETURN_IF_ERROR(piv_.Reset());
    mgm_key_ = SecureString();
    return Status::Ok();
  }

  // ManagementKey authenticates with the factory key (Admit refused any other card, and Wipe
  // put the factory key back on the station's own).
  Status ManagementKey() {
    CP_ASSIGN_OR_RETURN(auto meta, piv_.Metadata(kManagementKeyRef));
    CP_ASSIGN_OR_RETURN(PivAlg factory, ManagementAlg(profile_.piv.factory_management_key));
    // GET METADATA (Yubico 5.3+) says which algorithm the key in 9B has now.
    PivAlg now = factory;
    if (meta && meta->algorithm) now = static_cast<PivAlg>(*meta->algorithm);
    const Bytes key = FactoryManagementKey(ManagementKeyLength(now));
    Status st = piv_.Authenticate(now, key);
    if (st.kind() == ErrorKind::kLoginRefused) {
      return LoginRefused(
          "the card's management key is not the factory key (reset the card's PIV "
          "application before personalizing it)");
    }
    CP_RETURN_IF_ERROR(st);
    mgm_alg_ = now;
    mgm_key_ = SecureString(std::string(AsString(key)));
    return Status::Ok();
  }

  Status Keys() {
    for (const auto& spec : profile_.keys) {
      SlotWork w;
      w.spec = &spec;
      auto slot = FindPivSlot(spec.piv_slot);
      if (!slot) return InvalidInput("key " + spec.name + " has no PIV slot");
      w.slot = *slot;
      CP_ASSIGN_OR_RETURN(w.type, ParseKeyType(spec.algorithm));
      const uint8_t ref = PivKeyReference(w.slot);
      const std::string what = "slot " + std::string(spec.piv_slot);
      if (spec.source == profiles::KeySource::kServer) {
        // Archived: made here, sealed for the store, imported to the card (Yubico IMPORT).
        CP_ASSIGN_OR_RETURN(w.server_key, GenerateSoftKey(w.type));
        CP_RETURN_IF_ERROR(piv_.ImportKey(ref, w.server_key.get()).Wrap(what));
        CP_ASSIGN_OR_RETURN(w.spki, SpkiDer(w.server_key.get()));
      } else {
        auto spki = piv_.GenerateKey(ref, w.type);
        if (!spki.ok()) return spki.status().Wrap(what);
        w.spki = std::move(spki).value();
        CP_RETURN_IF_ERROR(Attestation(ref, w.spki).Wrap(what));
      }
      work_.push_back(std::move(w));
    }
    return Status::Ok();
  }

  // Attestation: where the card attests (Yubico ATTEST), the key is proven to have been made
  // on it; the profile can require that (then only attested keys get certificates).
  Status Attestation(uint8_t ref, const Bytes& spki) {
    const std::string& policy = profile_.piv.attestation;
    if (policy == "off") return Status::Ok();
    auto att = piv_.Attest(ref);
    if (!att.ok()) {
      if (att.status().kind() == ErrorKind::kNotFound && policy != "required") {
        return Status::Ok();
      }
      return att.status().Wrap("attestation required by the profile");
    }
    CP_ASSIGN_OR_RETURN(Bytes f9obj, piv_.GetData(kAttestationCertTag));
    auto inter = ExpectTlvCopy(f9obj);
    if (!inter.ok()) return inter.status().Wrap("the card's attestation certificate");
    if (opt_.attestation_root_pem.empty()) {
      // "if-offered" without a root: the attestation must still be about this key and signed
      // by the card's attestation key; the chain cannot be checked.
      return VerifyAttestationKey(*att, *inter, spki);
    }
    return VerifyAttestation(*att, *inter, opt_.attestation_root_pem, spki);
  }

  static Result<Bytes> ExpectTlvCopy(const Bytes& obj);
  static Status VerifyAttestationKey(const Bytes& att, const Bytes& inter, const Bytes& spki);

  Status Certificates() {
    CP_ASSIGN_OR_RETURN(auto sans, ca::SansFromJson(req_.sans_json));
    const bool archives = std::any_of(work_.begin(), work_.end(),
                                      [](const SlotWork& w) { return w.server_key != nullptr; });
    std::optional<DataKey> data_key;
    if (archives) {
      auto dk = DataKey::Create(db_, token_, opt_.kek_label, opt_.actor);
      if (!dk.ok()) return dk.status().Wrap("the card's data key");
      data_key.emplace(std::move(dk).value());
    }
    // The card's certificates go through the issuance core together (ca/issuance.h): each
    // prepared, their intents recorded in one transaction before anything is signed, signed,
    // and stored with the card's slots, the archived keys and their audit entries in one
    // transaction; two commits per card instead of two per certificate.
    std::vector<ca::Issuance> items(work_.size());
    for (size_t i = 0; i < work_.size(); ++i) {
      SlotWork& w = work_[i];
      ca::Issuance& item = items[i];
      CP_ASSIGN_OR_RETURN(item.issuer, issuers_.Get(db_, req_.ca_id, w.spec->cert_profile));
      if (w.server_key) {
        CP_ASSIGN_OR_RETURN(w.sealed, data_key->Seal(w.server_key.get(), req_.id, w.spec->name));
        w.server_key.reset();
      }
      item.issuer_id = req_.ca_id;
      item.request_id = req_.id;
      item.subject = req_.subject;
      item.tbs.subject_der.assign(req_.subject_der.begin(), req_.subject_der.end());
      item.tbs.spki = w.spki;
      // The request's SANs are the card's; each certificate carries those kinds its profile
      // names (the UPN on the logon certificate only, where Windows looks for it).
      for (const auto& san : sans) {
        if (item.issuer->profile().AllowsSan(san.type)) item.tbs.sans.push_back(san);
      }
      CP_RETURN_IF_ERROR(ca::Prepare(item).Wrap("slot " + std::string(PivSlotName(w.slot))));
    }
    std::vector<ca::Issuance*> pointers;
    for (auto& item : items) pointers.push_back(&item);
    // The intents are recorded, and the certificates stored, only while this station still
    // holds the request: checked inside each of the two transactions.
    ca::StoreLedger ledger(db_, [&](store::Connection& c) {
      return store::HoldCard(c, out_.card_id, req_.id, req_.fence, opt_.claimer,
                             opt_.lease_seconds);
    });
    CP_RETURN_IF_ERROR(ca::Record(ledger, pointers));
    for (size_t i = 0; i < items.size(); ++i) {
      CP_RETURN_IF_ERROR(
          ca::Sign(items[i]).Wrap("issuing for slot " + std::string(PivSlotName(work_[i].slot))));
    }
    CP_RETURN_IF_ERROR(store::RunTransaction(db_, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(
          store::HoldCard(c, out_.card_id, req_.id, req_.fence, opt_.claimer, opt_.lease_seconds));
      std::vector<store::SignedCert> certs;
      std::vector<store::AuditEvent> audit;
      for (size_t i = 0; i < items.size(); ++i) {
        const SlotWork& w = work_[i];
        const ca::Issuance& done = items[i];
        const std::string slot_name(PivSlotName(w.slot));
        certs.push_back(ca::SignedCertOf(done));
        CP_RETURN_IF_ERROR(store::AddCardCertificate(c, out_.card_id, slot_name, done.issuer_id,
                                                     done.intent.serial_hex));
        if (!w.sealed.empty()) {
          CP_RETURN_IF_ERROR(
              store::StorePrivateKeys(c, {{req_.id, w.spec->name, data_key->id(), w.sealed}}));
        }
        audit.push_back({opt_.actor, "card.certificate", "card:" + out_.serial,
                         "card_id=" + std::to_string(out_.card_id) +
                             " request=" + std::to_string(req_.id) + " slot=" + slot_name +
                             " serial=" + done.intent.serial_hex +
                             (w.sealed.empty() ? "" : " archived=yes")});
      }
      CP_RETURN_IF_ERROR(store::StoreCertificates(c, certs));
      return store::AppendAuditBatch(c, audit);
    }));
    for (size_t i = 0; i < items.size(); ++i) {
      SlotWork& w = work_[i];
      const std::string slot_name(PivSlotName(w.slot));
      w.der = std::move(items[i].der);
      w.serial_hex = items[i].intent.serial_hex;
      out_.certs[slot_name] = w.serial_hex;
      CP_RETURN_IF_ERROR(
          piv_.PutCertificate(PivCertificateTag(w.slot), w.der, w.der.size() > kMaxPlainCertificate)
              .Wrap("writing the certificate of slot " + slot_name));
    }
    return Status::Ok();
  }

  // CHUID with a fresh GUID and an expiry, and a CCC (SP 800-73-4 Part 1 3.1.1, 3.1.2):
  // Windows' and macOS's PIV drivers refuse cards without them.
  Status Identifiers() {
    if (RAND_bytes(guid_.data(), static_cast<int>(guid_.size())) != 1) {
      return OsslError("drawing a GUID");
    }
    guid_[6] = (guid_[6] & 0x0F) | 0x40;  // an RFC 4122 version 4 UUID
    guid_[8] = (guid_[8] & 0x3F) | 0x80;
    CP_RETURN_IF_ERROR(
        piv_.PutData(kChuidTag, EncodeChuid(guid_, ExpiryDate(profile_.piv.chuid_years))));
    CP_ASSIGN_OR_RETURN(Bytes ccc, EncodeCcc());
    return piv_.PutData(kCccTag, ccc);
  }

  // Retry counters first: on YubiKeys SET PIN RETRIES puts the factory PIN and PUK back, so
  // PIN and PUK are changed after it (CHANGE REFERENCE DATA, Part 2 3.2.2). A card without SET
  // PIN RETRIES keeps its own counters and is taken only if they allow no more tries than the
  // profile's (CardCounters). The new PUK is then read back without spending a try (CheckPuk).
  Status PinAndPuk() {
    CP_ASSIGN_OR_RETURN(auto meta, piv_.Metadata(kPinRef));
    if (meta && meta->is_default && !*meta->is_default) {
      return Conflict(
          "the card's PIN is not the factory PIN (reset the card's PIV application "
          "before personalizing it); no PIN was tried");
    }
    const SecureString factory_pin{std::string(kFactoryPin)};
    const SecureString factory_puk{std::string(kFactoryPuk)};
    CP_RETURN_IF_ERROR(piv_.Verify(kPinRef, factory_pin));
    Status retries = piv_.SetRetries(profile_.piv.pin_tries, profile_.piv.puk_tries);
    if (retries.ok()) {
      pin_tries_ = profile_.piv.pin_tries;
      puk_tries_ = profile_.piv.puk_tries;
    } else if (retries.message().find("6D00") != std::string::npos) {
      CP_RETURN_IF_ERROR(CardCounters().Wrap("SET PIN RETRIES is not supported (6D00)"));
    } else {
      return retries;
    }
    CP_ASSIGN_OR_RETURN(pin_, RandomDigits(profile_.piv.pin_length));
    CP_ASSIGN_OR_RETURN(puk_, RandomDigits(8));
    CP_RETURN_IF_ERROR(piv_.ChangeReference(kPinRef, factory_pin, pin_));
    CP_RETURN_IF_ERROR(piv_.ChangeReference(kPukRef, factory_puk, puk_));
    return CheckPuk();
  }

  // CardCounters reads the retry counters of a card that cannot set them: GET METADATA's
  // totals, else the tries VERIFY without data reports (63Cx, Part 2 3.2.1) once the PIN's
  // security status is reset (the factory PIN was just verified: the counter is full). A card
  // allowing more PIN or PUK tries than the profile is refused: it would let a thief guess
  // more often than the policy says.
  Status CardCounters() {
    CP_ASSIGN_OR_RETURN(auto pin, piv_.Metadata(kPinRef));
    if (pin && pin->retries) {
      pin_tries_ = pin->retries->first;
    } else {
      CP_RETURN_IF_ERROR(piv_.ForgetPin());
      CP_ASSIGN_OR_RETURN(pin_tries_, piv_.RetriesLeft(kPinRef));
    }
    if (pin_tries_ <= 0 || pin_tries_ > profile_.piv.pin_tries) {
      return CardError("the card allows " + std::to_string(pin_tries_) +
                       " PIN tries, more than the profile's " +
                       std::to_string(profile_.piv.pin_tries) + ", and cannot change that");
    }
    CP_ASSIGN_OR_RETURN(auto puk, piv_.Metadata(kPukRef));
    if (puk && puk->retries) {
      puk_tries_ = puk->retries->first;
      if (puk_tries_ > profile_.piv.puk_tries) {
        return CardError("the card allows " + std::to_string(puk_tries_) +
                         " PUK tries, more than the profile's " +
                         std::to_string(profile_.piv.puk_tries) + ", and cannot change that");
      }
    }
    return Status::Ok();
  }

  // CheckPuk reads the new PUK back without spending a try: GET METADATA says it is no longer
  // the factory one and its counter is full (as set); a card without GET METADATA changes the
  // PUK to itself (CHANGE REFERENCE DATA, Part 2 3.2.2: a right PUK costs no try).
  Status CheckPuk() {
    CP_ASSIGN_OR_RETURN(auto meta, piv_.Metadata(kPukRef));
    if (!meta) return piv_.ChangeReference(kPukRef, puk_, puk_).Wrap("the new PUK");
    if (meta->is_default && *meta->is_default) {
      return CardError("the card still has the factory PUK after it was changed");
    }
    if (meta->retries) {
      const auto [total, left] = *meta->retries;
      if (left != total || (puk_tries_ > 0 && total != puk_tries_)) {
        return CardError("the new PUK's counter reads " + std::to_string(left) + " of " +
                         std::to_string(total) + " tries" +
                         (puk_tries_ > 0 ? " (expected " + std::to_string(puk_tries_) + ")" : ""));
      }
    }
    return Status::Ok();
  }

  // FIPS 201-3 4.2.2.2: each card its own administration key, derived in the HSM from a master
  // key that never leaves it and the card's serial; nothing per card is stored.
  Status ReplaceManagementKey() {
    CP_ASSIGN_OR_RETURN(PivAlg target, ManagementAlg(profile_.piv.management_key));
    CP_ASSIGN_OR_RETURN(SecureString key,
                        ManagementKeyFor(token_, profile_.piv.master_key, out_.serial,
                                         ManagementKeyLength(target)));
    CP_RETURN_IF_ERROR(piv_.SetManagementKey(target, AsBytes(key.view())));
    mgm_alg_ = target;
    mgm_key_ = std::move(key);
    // The new key works (and the card did not keep the old one).
    return piv_.Authenticate(mgm_alg_, AsBytes(mgm_key_.view()));
  }

  Status Checks() {
    for (const SlotWork& w : work_) {
      const std::string slot_name(PivSlotName(w.slot));
      CP_ASSIGN_OR_RETURN(Bytes back, piv_.ReadCertificate(PivCertificateTag(w.slot)));
      if (back != w.der) {
        return CardError("slot " + slot_name + " reads back another certificate than written");
      }
    }
    CP_RETURN_IF_ERROR(piv_.Verify(kPinRef, pin_).Wrap("the new PIN"));
    for (const SlotWork& w : work_) {
      const std::string slot_name(PivSlotName(w.slot));
      // A fresh challenge per key; its digest is what the card signs.
      uint8_t challenge[32];
      if (RAND_bytes(challenge, sizeof challenge) != 1) return OsslError("drawing a challenge");
      const EVP_MD* md = SignatureDigest(w.type);
      Bytes digest(EVP_MD_get_size(md));
      unsigned int n = 0;
      if (EVP_Digest(challenge, sizeof challenge, digest.data(), &n, md, nullptr) != 1) {
        return OsslError("hashing a challenge");
      }
      // 9C's PIN is "always" (SP 800-73-4 Part 1 3.2: verified right before each use).
      if (w.slot == PivSlot::kSignature) CP_RETURN_IF_ERROR(piv_.Verify(kPinRef, pin_));
      auto sig = piv_.Sign(PivKeyReference(w.slot), w.type, digest);
      if (!sig.ok()) return sig.status().Wrap("signing with slot " + slot_name);
      CP_RETURN_IF_ERROR(
          VerifyCardSignature(w.der, w.type, digest, *sig).Wrap("slot " + slot_name));
    }
    // A wrong PIN must be refused and lower the counter; the right one then restores it.
    return CheckPinCounter(piv_, pin_, profile_.piv.pin_length, pin_tries_);
  }

  Status Finish() {
    if (opt_.test_secrets) opt_.test_secrets(out_.serial, pin_, puk_);
    std::function<Status(store::Connection&)> letter;
    if (opt_.release_letter) {
      letter = [&](store::Connection& tx) {
        LetterInput in{out_.card_id, out_.serial, req_.id, profile_.name, req_.fields_json};
        return opt_.release_letter(tx, in, pin_, puk_).Wrap("the PIN letter");
      };
    }
    return store::FinishCard(db_, out_.card_id, req_.id, req_.fence, opt_.claimer, guid_,
                             opt_.actor, letter);
  }

  void Fail(const Status& why) {
    std::string reason = why.message();
    if (ch_.removed()) reason = "card removed half-way: " + reason;
    auto revoked =
        store::FailCard(db_, out_.card_id, reason, store::RevocationReason::kCessationOfOperation,
                        opt_.claimer, opt_.actor);
    if (revoked.ok()) out_.revoked = *revoked;
    // A request whose profile changed cannot be issued by any card: it fails for good.
    if (why.kind() == ErrorKind::kInvalidInput &&
        reason.find("changed since") != std::string::npos) {
      store::RunTransaction(db_, [&](store::Connection& c) {
        return store::MarkFailed(c, req_.id, reason);
      }).IgnoreError();
    }
  }

  const PersonalizeOptions& opt_;
  const profiles::CardProfile& profile_;
  ApduChannel& ch_;
  PivCard piv_;
  store::Connection& db_;
  CryptoToken& token_;
  IssuerCache& issuers_;
  CardOutcome& out_;

  store::CardRequest req_;
  std::vector<SlotWork> work_;
  PivAlg mgm_alg_ = PivAlg::k3Des;
  SecureString mgm_key_;
  SecureString pin_, puk_;
  int pin_tries_ = -1;  // the card's PIN and PUK retry counters (-1: unknown)
  int puk_tries_ = -1;
  bool wipe_ = false;
  std::array<uint8_t, 16> guid_{};
};

Result<Bytes> Personalization::ExpectTlvCopy(const Bytes& obj) {
  CP_ASSIGN_OR_RETURN(ByteSpan cert, ExpectTlv(obj, 0x70, "certificate object"));
  return Bytes(cert.begin(), cert.end());
}

Status Personalization::VerifyAttestationKey(const Bytes& att, const Bytes& inter,
                                             const Bytes& spki) {
  return VerifyAttestation(att, inter, "", spki);
}

}  // namespace

Result<const Issuer*> IssuerCache::Get(store::Connection& db, int64_t ca_id,
                                       const std::string& cert_profile) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(ca_id, cert_profile);
  auto it = issuers_.find(key);
  if (it != issuers_.end()) return it->second.get();
  CP_ASSIGN_OR_RETURN(const profiles::CertProfile* cp, profiles_.Certificate(cert_profile));
  CP_ASSIGN_OR_RETURN(CaKey ca, ca::LoadCaKey(db, token_, ca_id));
  CP_ASSIGN_OR_RETURN(Issuer issuer, Issuer::Create(*cp, std::move(ca)));
  auto made = std::make_unique<Issuer>(std::move(issuer));
  const Issuer* p = made.get();
  issuers_.emplace(key, std::move(made));
  return p;
}

Result<SecureString> ManagementKeyFor(CryptoToken& token, const std::string& master_label,
                                      const std::string& serial, size_t length) {
  if (length > 32) return InvalidInput("management key longer than 32 bytes");
  std::string info = "certpress PIV management key v1";
  info.push_back('\0');
  info += serial;
  CP_ASSIGN_OR_RETURN(SecureString full, token.DeriveSecret(master_label, AsBytes(info)));
  if (full.size() < length) return HsmError("derivation gave too few bytes");
  return SecureString(full.str().substr(0, length));
}

CardOutcome PersonalizeCard(const PersonalizeOptions& options, CardTransport& transport,
                            const Bytes& atr, const std::string& reader, store::Connection& db,
                            CryptoToken& token, IssuerCache& issuers) {
  const auto t0 = Clock::now();
  CardOutcome out;
  out.reader = reader;
  TimedTransport timed(transport);
  Limits limits;
  limits.command_timeout = options.command_timeout;
  ApduChannel channel(timed, limits);
  Personalization(options, channel, db, token, issuers, out).Run(atr, reader);
  out.apdus = channel.apdus();
  out.seconds = Seconds(Clock::now() - t0);
  out.card_seconds = timed.seconds();
  return out;
}

}  // namespace certpress::kgs
