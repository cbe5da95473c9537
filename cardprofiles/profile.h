// profile.h: card profiles and the certificate profiles they name, loaded from TOML.
//
// A card profile describes one kind of credential: the token it lives on (soft = PKCS#12 by
// activation email, piv = a PIV smart card, csr = the requester holds the key), the keys and
// the certificate profile of each, the request fields (CSV columns or --field values) and how
// they fill the subject DN and SANs, how many distinct operators must approve, and the
// delivery. A soft certificate is a card profile too, as Nexus CM models it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cardprofiles/cert_profile.h"
#include "common/status.h"
#include "common/texts.h"

namespace certpress::profiles {

enum class TokenKind { kSoft, kPiv, kCsr };
enum class KeySource { kServer, kCard, kRequester };
enum class Delivery { kActivationEmail, kStation, kNone };

std::string_view TokenKindName(TokenKind k);
std::string_view KeySourceName(KeySource k);
std::string_view DeliveryName(Delivery d);

struct KeySpec {
  std::string name;       // "auth", "signature", "key-management", "tls"
  std::string piv_slot;   // "9a", "9c", "9d", "9e" (piv only), else empty
  std::string algorithm;  // "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"
  // For requester keys (CSRs): the key types accepted; |algorithm| is then empty.
  std::vector<std::string> allowed_algorithms;
  KeySource source = KeySource::kServer;
  std::string cert_profile;  // name of a [certificate.NAME] table
};

enum class FieldKind { kText, kEmail, kDns, kDnsList, kIpList };

struct FieldSpec {
  std::string name;  // CSV column / --field key, e.g. "given_name"
  bool required = false;
  size_t max_length = 128;  // in characters (code points)
  std::string pattern;      // ECMAScript regex the whole value must match; empty = any
  FieldKind kind = FieldKind::kText;
};

// A template string: literal text with {field} references, e.g. "{given_name} {surname}".
// A reference to an empty optional field renders as empty; an attribute or SAN whose
// rendered value is empty is left out.
struct NameTemplate {
  std::string attribute;  // "CN", "O", "C", "serialNumber", ...
  std::string value;
};

struct SanTemplate {
  SanType type;
  std::string value;  // for kDnsList and kIpList fields, one SAN per comma-separated element
};

// The card-side policy of a PIV profile ([card.NAME.piv]; SP 800-73-4, FIPS 201-3 2.9).
struct PivPolicy {
  int pin_length = 8;  // random digits, 6 to 8 (FIPS 201-3 4.3.1: numeric, at least 6)
  int pin_tries = 3;   // retry counters, 1 to 10, set before the PIN and PUK
  int puk_tries = 3;
  // The per-card management key's algorithm: "aes-128", "aes-192", "aes-256" or "3des".
  std::string management_key = "aes-256";
  // The factory key's algorithm where the card does not say (Yubico GET METADATA does).
  std::string factory_management_key = "3des";
  // The master key in the token from which every card's management key is derived.
  std::string master_key = "certpress-piv-admin";
  // "required": only keys the card attests (Yubico ATTEST) chaining to |attestation_root| get
  // certificates; "if-offered": verified when the card attests; "off": not asked.
  std::string attestation = "if-offered";
  std::string attestation_root;  // PEM file, relative to the profile directory or absolute
  int chuid_years = 5;           // the CHUID's expiration date, from personalization
};

// LetterTemplate is a profile's [card.NAME.letter] table: how its letters read (kgs/letter_pdf.h
// lays them out on A4 for a windowed envelope). A piv profile's letters carry a card's PIN and
// PUK; a soft profile whose activation code goes by post (activation.code = "letter") sends
// that code in them, and its wording defaults to CodeLetterTemplate's. Every text may use the
// placeholders of kLetterPlaceholders. A piv profile without the table gets these defaults.
struct LetterTemplate {
  std::string language = "en";  // en, de or fr: the fixed labels and the date's format
  // The sender block at the top right: the organisation first (bold), then its address and
  // how to reach the help desk. 1-8 lines.
  std::vector<std::string> sender = {"CertPress", "Card Services"};
  // The one-line return address above the recipient (DIN 5008); default: the sender's first
  // three lines joined with " · ".
  std::string return_address;
  // How the holder's name and postal address are made from a request's fields (templates
  // of declared fields, kgs::LetterRecipient): a station fills its PinLetterInput so.
  std::string recipient;
  std::vector<std::string> address;
  std::string title = "Your PIN for your new smart card";
  std::string greeting = "Dear {holder_name},";
  // Paragraphs, separated by a blank line.
  std::string body =
      "your new smart card (serial number {card_serial}) has been personalized and is sent to "
      "you separately. Below are the PIN that unlocks it and the PUK that unblocks the PIN.";
  // Numbered steps below the PIN box.
  std::vector<std::string> instructions = {
      "Memorize your PIN, then destroy this letter. Never keep it with the card.",
      "Never tell anyone your PIN or PUK: we will never ask for them.",
      "If your card does not arrive within ten days, or this letter was opened, call us."};
  std::string closing = "Kind regards,\nCard Services";
  std::string footer;  // small print at the foot of the page
};

// The placeholders a letter's texts may use ({card_serial} is empty in an activation-code
// letter: there is no card).
inline constexpr std::string_view kLetterPlaceholders[] = {
    "holder_name", "card_serial", "letter_id", "request_id", "profile", "date"};

// CodeLetterTemplate is the wording of an activation-code letter in |language| (en, de or
// fr; anything else gives en), where the profile's [letter] table leaves it out: title,
// greeting, body, instructions and closing. Sender, recipient and address stay the profile's.
LetterTemplate CodeLetterTemplate(std::string_view language);

// Who may read an activation code besides the holder's mailbox: SP 800-63B does not accept
// email alone as an authenticator, so a profile may require a code sent on another channel.
enum class CodeChannel { kNone, kOperator, kLetter };
std::string_view CodeChannelName(CodeChannel c);

// [card.NAME.activation], for delivery = "activation-email": whom the activation mail goes to
// and what it says. recipient and name are templates over the request's fields; the mail's
// subject, text and html are templates over {name}, {link} and {expiry} (empty: the defaults
// of common/texts.h in |language|). |language| is also the language of the profile's pages
// (pickup, application form) and of its invitations' mails. The wording (language, subject,
// text, html) is not part of content_hash, as the PIN letter's is not.
struct ActivationSpec {
  std::string recipient = "{email}";
  std::string name;  // empty: the subject's CN template
  CodeChannel code = CodeChannel::kNone;
  int64_t validity_seconds = 7 * 24 * 3600;
  int max_attempts = 10;
  Lang language = Lang::kEn;  // en, de or fr
  std::string mail_subject, mail_text, mail_html;
};

struct CardProfile {
  std::string name;
  std::string description;
  TokenKind token = TokenKind::kSoft;
  std::vector<KeySpec> keys;
  std::vector<FieldSpec> fields;
  std::vector<NameTemplate> subject;  // in RFC 4514 order: most specific first (CN first)
  std::vector<SanTemplate> sans;
  std::string natural_key;  // field that identifies a row across imports (e.g. employee_id)
  int approvals = 1;        // 0, 1 or 2 distinct operators
  bool submitter_may_approve = true;  // false: who submitted a request may not approve it
  Delivery delivery = Delivery::kNone;
  ActivationSpec activation;  // delivery = activation-email
  PivPolicy piv;              // piv tokens only
  // Server-generated keys are destroyed when their holder picks them up, unless archived.
  bool archive_keys = false;
  // The CAs that may sign for this profile (`cas`), and the one that does unless the request
  // names another of them (`ca`, which must be among `cas`). Only `ca` given: cas = [ca].
  // Only `cas` given: its single entry is the default, or with several `--ca` must choose.
  // Neither: any CA but a root may be named (`--ca` required).
  std::string ca;
  std::vector<std::string> cas;
  // SHA-256 over the canonical form of this card profile and every certificate profile it
  // names: a request pins it (requests.profile_hash), and a run refuses to issue if it changed.
  std::array<uint8_t, 32> content_hash{};
  // The PIN letter (piv profiles; not part of content_hash: its wording may change without
  // failing approved requests).
  LetterTemplate letter;

  const FieldSpec* Field(std::string_view name) const;
};

struct ProfileSet {
  std::map<std::string, CertProfile, std::less<>> certificates;
  std::map<std::string, CardProfile, std::less<>> cards;

  // Card returns the card profile |name| or a NotFound that lists the known names.
  Result<const CardProfile*> Card(std::string_view name) const;
  Result<const CertProfile*> Certificate(std::string_view name) const;
};

// LoadProfiles reads every *.toml file in |dir| (sorted by name). A file may hold
// [certificate.NAME] and [card.NAME] tables. Every error names the file, line and column
// and the key ("profiles/employee.toml:12:1: card.employee-soft.approvals: must be 0, 1 or
// 2"). Names must be unique across files.
Result<ProfileSet> LoadProfiles(const std::string& dir);

// LoadProfilesFromString parses one TOML document (|source_name| is used in messages).
Result<ProfileSet> LoadProfilesFromString(std::string_view toml, const std::string& source_name);

// RenderTemplate expands {field} references from |fields|. An unknown reference is an error.
Result<std::string> RenderTemplate(std::string_view tmpl,
                                   const std::map<std::string, std::string>& fields);

}  // namespace certpress::profiles
