// profile_card.cc: the [card.NAME] tables of a profile document. ParseCard checks the table's
// keys and reads it one key or sub-table at a time, each in a function of its own. A new part
// of a card profile (its PIN policy, PIN letters, activation mail) is one more such function
// (declared in profile_parser.h), its call in ParseCard and its key in ParseCard's list.
#include <algorithm>
#include <map>
#include <regex>

#include "cardprofiles/key_types.h"
#include "cardprofiles/profile_parser.h"
#include "cardprofiles/spelling.h"

namespace certpress::profiles {

namespace {

// Each enum's spelling in the TOML, one table per enum for parsing, naming and the error text.
constexpr Spelling<TokenKind> kTokenKinds[] = {
    {TokenKind::kSoft, "soft"}, {TokenKind::kPiv, "piv"}, {TokenKind::kCsr, "csr"}};
constexpr Spelling<Delivery> kDeliveries[] = {{Delivery::kActivationEmail, "activation-email"},
                                              {Delivery::kStation, "station"},
                                              {Delivery::kNone, "none"}};
constexpr Spelling<CodeChannel> kCodeChannels[] = {{CodeChannel::kNone, "none"},
                                                   {CodeChannel::kOperator, "operator"},
                                                   {CodeChannel::kLetter, "letter"}};
constexpr Spelling<FieldKind> kFieldKinds[] = {{FieldKind::kText, "text"},
                                               {FieldKind::kEmail, "email"},
                                               {FieldKind::kDns, "dns"},
                                               {FieldKind::kDnsList, "dns-list"},
                                               {FieldKind::kIpList, "ip-list"}};
constexpr Spelling<KeySource> kKeySources[] = {{KeySource::kServer, "server"},
                                               {KeySource::kCard, "card"},
                                               {KeySource::kRequester, "requester"}};

// CountsTooLarge reports whether a pattern has a repetition count ({m}, {m,n}) or a
// back-reference number above 4096, the largest max_length: libstdc++'s std::regex reads such
// numbers into a long without an overflow check (undefined behaviour, then truncated to int,
// so {4294967297} meant {1}); profile_fuzz found it. A count above any field's length is
// meaningless anyway.
bool CountsTooLarge(std::string_view pattern) {
  constexpr long kMaxCount = 4096;
  // Reads the digits at |j| on; true if their value is above kMaxCount.
  auto too_large = [&](size_t& j) {
    long v = 0;
    for (; j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9'; ++j) {
      v = v * 10 + (pattern[j] - '0');
      if (v > kMaxCount) return true;
    }
    return false;
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{' && pattern[i] != '\\') continue;
    size_t j = i + 1;
    if (too_large(j)) return true;
    if (pattern[i] == '{' && j < pattern.size() && pattern[j] == ',' && too_large(++j)) return true;
  }
  return false;
}

// "must be a, b or c"
template <class Row, size_t N>
std::string MustBeOneOf(const Row (&table)[N]) {
  return "must be " + NameList(table);
}

// The subject attributes a template may fill.
constexpr std::string_view kAttributes[] = {"CN",           "SN",       "GN",
                                            "serialNumber", "C",        "L",
                                            "ST",           "street",   "O",
                                            "OU",           "title",    "postalCode",
                                            "UID",          "DC",       "emailAddress",
                                            "pseudonym",    "initials", "organizationIdentifier"};

bool IsAttribute(std::string_view name) {
  return std::find(std::begin(kAttributes), std::end(kAttributes), name) != std::end(kAttributes);
}

}  // namespace

std::map<std::string, std::string> Probe(const CardProfile& c) {
  std::map<std::string, std::string> probe;
  for (const auto& f : c.fields) probe[f.name] = "x";
  return probe;
}

std::string_view TokenKindName(TokenKind k) {
  return NameOf(kTokenKinds, k);
}

std::string_view KeySourceName(KeySource k) {
  return NameOf(kKeySources, k);
}

std::string_view DeliveryName(Delivery d) {
  return NameOf(kDeliveries, d);
}

std::string_view CodeChannelName(CodeChannel c) {
  return NameOf(kCodeChannels, c);
}

Status Parser::ParseCard(const std::string& name, const toml::table& t, const std::string& path) {
  CP_RETURN_IF_ERROR(
      toml_.KnownKeys(t, path,
                      {"description", "token", "approvals", "submitter_may_approve", "delivery",
                       "natural_key", "ca", "cas", "subject", "sans", "fields", "keys", "piv",
                       "letter", "activation", "archive_keys"}));
  CardProfile c;
  c.name = name;
  CP_ASSIGN_OR_RETURN(c.description, toml_.Str(t, "description", path, false));
  CP_RETURN_IF_ERROR(ParseToken(t, path, &c));
  CP_RETURN_IF_ERROR(ParseApprovals(t, path, &c));
  CP_RETURN_IF_ERROR(ParseDelivery(t, path, &c));
  CP_ASSIGN_OR_RETURN(c.natural_key, toml_.Str(t, "natural_key", path, false));
  // archive_keys = true keeps a server-generated key after its holder picked it up (key
  // recovery for key-management keys); by default the pickup destroys it.
  CP_ASSIGN_OR_RETURN(c.archive_keys, toml_.Bool(t, "archive_keys", path, false));
  CP_RETURN_IF_ERROR(ParseCas(t, path, &c));
  CP_RETURN_IF_ERROR(ParseFields(t, path, &c));
  CP_RETURN_IF_ERROR(CheckNaturalKey(t, path, c));
  CP_RETURN_IF_ERROR(ParseSubject(t, path, &c));  // templates name fields: after ParseFields
  CP_RETURN_IF_ERROR(ParseSans(t, path, &c));
  CP_RETURN_IF_ERROR(ParseKeys(t, path, &c));  // a key's source depends on the token
  CP_RETURN_IF_ERROR(ParsePiv(t, path, &c));
  CP_RETURN_IF_ERROR(ParseActivation(t, path, &c));  // after the fields and subject it names
  CP_RETURN_IF_ERROR(ParseLetter(t, path, &c));      // after activation: a code may go by post
  // The hash a request pins covers what gets issued: free text (the description, the PIN
  // letter's and the activation mail's wording and language; comments never reach the
  // canonical form) may change without failing approved requests.
  toml::table issued = t;
  issued.erase("description");
  issued.erase("letter");
  if (toml::table* act = issued.get_as<toml::table>("activation")) {
    for (const char* wording : {"language", "subject", "text", "html"}) act->erase(wording);
  }
  canonical_cards_[name] = TomlReader::Canonical(issued);
  if (!out_->cards.emplace(name, std::move(c)).second) {
    return InvalidInput(toml_.Where(t) + path + ": defined twice");
  }
  return Status::Ok();
}

// ca = "label" and cas = ["label", ...], both optional: the CAs that may sign, and the default.
Status Parser::ParseCas(const toml::table& t, const std::string& path, CardProfile* c) const {
  CP_ASSIGN_OR_RETURN(c->ca, toml_.Str(t, "ca", path, false));
  CP_ASSIGN_OR_RETURN(auto cas, toml_.Strings(t, "cas", path, false));
  for (const auto& [label, node] : cas) {
    if (label.empty()) return toml_.Error(*node, path + ".cas", "a CA label is empty");
    if (std::find(c->cas.begin(), c->cas.end(), label) != c->cas.end()) {
      return toml_.Error(*node, path + ".cas", "CA '" + label + "' is listed twice");
    }
    c->cas.push_back(label);
  }
  if (t.contains("cas") && c->cas.empty()) {
    return toml_.Error(*t.get("cas"), path + ".cas", "must name at least one CA");
  }
  if (!c->ca.empty() && !c->cas.empty() &&
      std::find(c->cas.begin(), c->cas.end(), c->ca) == c->cas.end()) {
    return toml_.Error(*t.get("ca"), path + ".ca", "CA '" + c->ca + "' is not among cas");
  }
  if (!c->ca.empty() && c->cas.empty()) c->cas.push_back(c->ca);
  if (c->ca.empty() && c->cas.size() == 1) c->ca = c->cas[0];
  return Status::Ok();
}

// token = "soft" | "piv" | "csr", required.
Status Parser::ParseToken(const toml::table& t, const std::string& path, CardProfile* c) const {
  CP_ASSIGN_OR_RETURN(std::string token, toml_.Str(t, "token", path, true));
  auto token_kind = FromName(kTokenKinds, token);
  if (!token_kind) return toml_.Error(*t.get("token"), path + ".token", MustBeOneOf(kTokenKinds));
  c->token = *token_kind;
  return Status::Ok();
}

// approvals = 0 | 1 | 2, required: how many distinct operators approve a request.
// submitter_may_approve = true | false: whether the operator who imported or submitted a
// request may be one of its approvers; false by default where two must approve (the four-eyes
// rule would otherwise need only one other person).
Status Parser::ParseApprovals(const toml::table& t, const std::string& path, CardProfile* c) const {
  CP_ASSIGN_OR_RETURN(int64_t approvals, toml_.Int(t, "approvals", path, true, 1));
  if (approvals < 0 || approvals > 2) {
    return toml_.Error(*t.get("approvals"), path + ".approvals", "must be 0, 1 or 2");
  }
  c->approvals = static_cast<int>(approvals);
  CP_ASSIGN_OR_RETURN(c->submitter_may_approve,
                      toml_.Bool(t, "submitter_may_approve", path, approvals < 2));
  return Status::Ok();
}

// delivery = "activation-email" | "station" | "none" (the default).
Status Parser::ParseDelivery(const toml::table& t, const std::string& path, CardProfile* c) const {
  CP_ASSIGN_OR_RETURN(std::string delivery, toml_.Str(t, "delivery", path, false, "none"));
  auto delivery_kind = FromName(kDeliveries, delivery);
  if (!delivery_kind) {
    return toml_.Error(*t.get("delivery"), path + ".delivery", MustBeOneOf(kDeliveries));
  }
  c->delivery = *delivery_kind;
  return Status::Ok();
}

// [card.NAME.activation], only with delivery = "activation-email", optional:
//   recipient = "{email}", name = "{given_name} {surname}" (templates over the fields; name
//   defaults to the subject's CN), code = "none" | "operator" | "letter", validity_hours = 168,
//   max_attempts = 10, language = "en" | "de" | "fr" (the mail's default texts and the
//   profile's pages), subject/text/html = mail templates over {name}, {link} and {expiry}.
Status Parser::ParseActivation(const toml::table& t, const std::string& path,
                               CardProfile* c) const {
  const toml::node* anode = t.get("activation");
  ActivationSpec& a = c->activation;
  for (const auto& n : c->subject) {
    if (n.attribute == "CN") a.name = n.value;
  }
  const std::string apath = path + ".activation";
  if (anode != nullptr && c->delivery != Delivery::kActivationEmail) {
    return toml_.Error(*anode, apath, "needs delivery = \"activation-email\"");
  }
  if (c->delivery != Delivery::kActivationEmail) return Status::Ok();
  const toml::table empty;
  const toml::table* at = anode != nullptr ? anode->as_table() : &empty;
  if (at == nullptr) return toml_.Error(*anode, apath, "must be a table");
  // Errors point at the key, or at the card table when the key is a default.
  auto at_key = [&](std::string_view key) -> const toml::node& {
    const toml::node* n = at->get(key);
    return n != nullptr ? *n : static_cast<const toml::node&>(t);
  };
  CP_RETURN_IF_ERROR(toml_.KnownKeys(*at, apath,
                                     {"recipient", "name", "code", "validity_hours", "max_attempts",
                                      "language", "subject", "text", "html"}));
  const std::map<std::string, std::string> probe = Probe(*c);
  for (auto [key, out] : {std::pair{"recipient", &a.recipient}, std::pair{"name", &a.name}}) {
    CP_ASSIGN_OR_RETURN(std::string tmpl, toml_.Str(*at, key, apath, false, *out));
    auto r = RenderTemplate(tmpl, probe);
    if (!r.ok()) return toml_.Error(at_key(key), apath + "." + key, r.status().message());
    *out = tmpl;
  }
  CP_ASSIGN_OR_RETURN(std::string code, toml_.Str(*at, "code", apath, false, "none"));
  auto channel = FromName(kCodeChannels, code);
  if (!channel) return toml_.Error(at_key("code"), apath + ".code", MustBeOneOf(kCodeChannels));
  a.code = *channel;
  CP_ASSIGN_OR_RETURN(int64_t hours, toml_.Int(*at, "validity_hours", apath, false, 168));
  if (hours < 1 || hours > 24 * 90) {
    return toml_.Error(at_key("validity_hours"), apath + ".validity_hours",
                       "must be 1 to 2160 (90 days)");
  }
  a.validity_seconds = hours * 3600;
  CP_ASSIGN_OR_RETURN(int64_t tries, toml_.Int(*at, "max_attempts", apath, false, 10));
  if (tries < 1 || tries > 100) {
    return toml_.Error(at_key("max_attempts"), apath + ".max_attempts", "must be 1 to 100");
  }
  a.max_attempts = static_cast<int>(tries);
  CP_ASSIGN_OR_RETURN(std::string language, toml_.Str(*at, "language", apath, false, "en"));
  auto lang = ParseLang(language);
  if (!lang) {
    return toml_.Error(at_key("language"), apath + ".language",
                       "must be " + std::string(kLangChoices) + ", not '" + language + "'");
  }
  a.language = *lang;
  // The mail's templates know {name}, {link} and {expiry} only.
  const std::map<std::string, std::string> mail_probe = {
      {"name", "x"}, {"link", "x"}, {"expiry", "x"}};
  for (auto [key, out] : {std::pair{"subject", &a.mail_subject}, std::pair{"text", &a.mail_text},
                          std::pair{"html", &a.mail_html}}) {
    CP_ASSIGN_OR_RETURN(*out, toml_.Str(*at, key, apath, false));
    auto r = RenderTemplate(*out, mail_probe);
    if (!r.ok()) return toml_.Error(at_key(key), apath + "." + key, r.status().message());
  }
  return Status::Ok();
}

// [card.NAME.fields], required: NAME = { required, max_length, pattern, kind } per field.
Status Parser::ParseFields(const toml::table& t, const std::string& path, CardProfile* c) const {
  const toml::node* fnode = t.get("fields");
  if (fnode == nullptr) return InvalidInput(toml_.Where(t) + path + ".fields: is required");
  const toml::table* ft = fnode->as_table();
  if (ft == nullptr) return toml_.Error(*fnode, path + ".fields", "must be a table");
  for (auto&& [fname, fv] : *ft) {
    const std::string fpath = path + ".fields." + std::string(fname.str());
    const toml::table* spec = fv.as_table();
    if (spec == nullptr) return toml_.Error(fv, fpath, "must be an inline table");
    CP_RETURN_IF_ERROR(
        toml_.KnownKeys(*spec, fpath, {"required", "max_length", "pattern", "kind"}));
    FieldSpec f;
    f.name = std::string(fname.str());
    CP_ASSIGN_OR_RETURN(f.required, toml_.Bool(*spec, "required", fpath, false));
    CP_ASSIGN_OR_RETURN(int64_t ml, toml_.Int(*spec, "max_length", fpath, false, 128));
    if (ml < 1 || ml > 4096) {
      return toml_.Error(*spec->get("max_length"), fpath + ".max_length", "must be 1 to 4096");
    }
    f.max_length = static_cast<size_t>(ml);
    CP_ASSIGN_OR_RETURN(f.pattern, toml_.Str(*spec, "pattern", fpath, false));
    if (!f.pattern.empty()) {
      if (CountsTooLarge(f.pattern)) {
        return toml_.Error(*spec->get("pattern"), fpath + ".pattern",
                           "has a repetition count or back-reference above 4096");
      }
      // std::regex reports a bad pattern only by throwing; keep it inside this function.
      try {
        std::regex re(f.pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& e) {
        return toml_.Error(*spec->get("pattern"), fpath + ".pattern",
                           std::string("is not a valid regular expression: ") + e.what());
      }
    }
    CP_ASSIGN_OR_RETURN(std::string kind, toml_.Str(*spec, "kind", fpath, false, "text"));
    auto field_kind = FromName(kFieldKinds, kind);
    if (!field_kind) {
      return toml_.Error(*spec->get("kind"), fpath + ".kind", MustBeOneOf(kFieldKinds));
    }
    f.kind = *field_kind;
    c->fields.push_back(std::move(f));
  }
  return Status::Ok();
}

// natural_key, if given, must name a required field.
Status Parser::CheckNaturalKey(const toml::table& t, const std::string& path,
                               const CardProfile& c) const {
  if (c.natural_key.empty()) return Status::Ok();
  const FieldSpec* nk = c.Field(c.natural_key);
  if (nk == nullptr || !nk->required) {
    return toml_.Error(*t.get("natural_key"), path + ".natural_key", "must name a required field");
  }
  return Status::Ok();
}

// subject = [["CN", "{given_name} {surname}"], ...], required: known attributes, templates
// that name declared fields.
Status Parser::ParseSubject(const toml::table& t, const std::string& path, CardProfile* c) const {
  const std::map<std::string, std::string> probe = Probe(*c);
  CP_ASSIGN_OR_RETURN(auto subject, toml_.Pairs(t, "subject", path, true));
  for (auto& [attr, tmpl, node] : subject) {
    if (!IsAttribute(attr)) {
      return toml_.Error(*node, path + ".subject", "unknown attribute '" + attr + "'");
    }
    auto r = RenderTemplate(tmpl, probe);
    if (!r.ok()) return toml_.Error(*node, path + ".subject", r.status().message());
    c->subject.push_back({attr, tmpl});
  }
  return Status::Ok();
}

// sans = [["email", "{email}"], ...]: known SAN types, templates that name declared fields.
Status Parser::ParseSans(const toml::table& t, const std::string& path, CardProfile* c) const {
  const std::map<std::string, std::string> probe = Probe(*c);
  CP_ASSIGN_OR_RETURN(auto sans, toml_.Pairs(t, "sans", path, false));
  for (auto& [type, tmpl, node] : sans) {
    auto st = ParseSanType(type);
    if (!st.ok()) return toml_.Error(*node, path + ".sans", st.status().message());
    auto r = RenderTemplate(tmpl, probe);
    if (!r.ok()) return toml_.Error(*node, path + ".sans", r.status().message());
    c->sans.push_back({*st, tmpl});
  }
  return Status::Ok();
}

// [[card.NAME.keys]], at least one: names and PIV slots unique within the card.
Status Parser::ParseKeys(const toml::table& t, const std::string& path, CardProfile* c) {
  const toml::node* knode = t.get("keys");
  if (knode == nullptr) {
    return InvalidInput(toml_.Where(t) + path + ".keys: at least one key is required");
  }
  const toml::array* keys = knode->as_array();
  if (keys == nullptr || keys->empty()) {
    return toml_.Error(*knode, path + ".keys", "must be a non-empty array of tables ([[...keys]])");
  }
  std::set<std::string> slots, names;
  for (size_t i = 0; i < keys->size(); ++i) {
    const toml::node& kn = *keys->get(i);
    const std::string kpath = path + ".keys[" + std::to_string(i) + "]";
    const toml::table* kt = kn.as_table();
    if (kt == nullptr) return toml_.Error(kn, kpath, "must be a table");
    CP_RETURN_IF_ERROR(toml_.KnownKeys(
        *kt, kpath,
        {"name", "algorithm", "allowed_algorithms", "source", "certificate", "piv_slot"}));
    KeySpec k;
    CP_ASSIGN_OR_RETURN(k.name, toml_.Str(*kt, "name", kpath, true));
    if (!names.insert(k.name).second) {
      return toml_.Error(kn, kpath + ".name", "'" + k.name + "' is used twice");
    }
    CP_RETURN_IF_ERROR(ParseKeySource(*kt, kpath, c->token, &k));
    CP_RETURN_IF_ERROR(ParseKeyAlgorithm(kn, *kt, kpath, &k));
    CP_ASSIGN_OR_RETURN(k.cert_profile, toml_.Str(*kt, "certificate", kpath, true));
    cert_refs_.push_back(
        {k.cert_profile, toml_.Where(*kt->get("certificate")) + kpath + ".certificate"});
    CP_RETURN_IF_ERROR(ParseKeySlot(kn, *kt, kpath, c->token, &slots, &k));
    c->keys.push_back(std::move(k));
  }
  return Status::Ok();
}

// source = "server" | "card" | "requester", required, and the one the token implies.
Status Parser::ParseKeySource(const toml::table& kt, const std::string& kpath, TokenKind token,
                              KeySpec* k) const {
  CP_ASSIGN_OR_RETURN(std::string source, toml_.Str(kt, "source", kpath, true));
  auto key_source = FromName(kKeySources, source);
  if (!key_source) {
    return toml_.Error(*kt.get("source"), kpath + ".source", MustBeOneOf(kKeySources));
  }
  k->source = *key_source;
  // A PIV profile that archives its key-management key has the server make it and imports it
  // to slot 9D (ParsePiv checks the slot).
  if (token == TokenKind::kPiv && k->source == KeySource::kServer) return Status::Ok();
  const KeySource expected = token == TokenKind::kSoft  ? KeySource::kServer
                             : token == TokenKind::kPiv ? KeySource::kCard
                                                        : KeySource::kRequester;
  if (k->source != expected) {
    return toml_.Error(*kt.get("source"), kpath + ".source",
                       "a " + std::string(TokenKindName(token)) + " profile's keys come from the " +
                           std::string(KeySourceName(expected)) + ", not the " + source);
  }
  return Status::Ok();
}

// algorithm = a key type (cardprofiles/key_types.h) for keys made by the server or the card;
// allowed_algorithms = [key types] instead for keys the requester holds.
Status Parser::ParseKeyAlgorithm(const toml::node& kn, const toml::table& kt,
                                 const std::string& kpath, KeySpec* k) const {
  if (k->source == KeySource::kRequester) {
    if (kt.contains("algorithm")) {
      return toml_.Error(*kt.get("algorithm"), kpath + ".algorithm",
                         "requester keys take allowed_algorithms instead");
    }
    CP_ASSIGN_OR_RETURN(auto algs, toml_.Strings(kt, "allowed_algorithms", kpath, true));
    if (algs.empty()) return toml_.Error(kn, kpath + ".allowed_algorithms", "must not be empty");
    for (auto& [a, node] : algs) {
      if (!FindKeyType(a)) {
        return toml_.Error(*node, kpath + ".allowed_algorithms", "unknown key type '" + a + "'");
      }
      k->allowed_algorithms.push_back(a);
    }
    return Status::Ok();
  }
  CP_ASSIGN_OR_RETURN(k->algorithm, toml_.Str(kt, "algorithm", kpath, true));
  if (auto type = ParseKeyType(k->algorithm); !type.ok()) {
    return toml_.Error(*kt.get("algorithm"), kpath + ".algorithm", type.status().message());
  }
  if (kt.contains("allowed_algorithms")) {
    return toml_.Error(*kt.get("allowed_algorithms"), kpath + ".allowed_algorithms",
                       "only requester keys take allowed_algorithms");
  }
  return Status::Ok();
}

// piv_slot = a PIV slot (cardprofiles/key_types.h), required for piv cards, each slot once;
// other tokens have no slots.
Status Parser::ParseKeySlot(const toml::node& kn, const toml::table& kt, const std::string& kpath,
                            TokenKind token, std::set<std::string>* slots, KeySpec* k) const {
  CP_ASSIGN_OR_RETURN(k->piv_slot, toml_.Str(kt, "piv_slot", kpath, false));
  if (token != TokenKind::kPiv) {
    if (!k->piv_slot.empty()) {
      return toml_.Error(*kt.get("piv_slot"), kpath + ".piv_slot", "only piv profiles have slots");
    }
    return Status::Ok();
  }
  if (k->piv_slot.empty())
    return toml_.Error(kn, kpath + ".piv_slot", "is required for piv profiles");
  if (!FindPivSlot(k->piv_slot)) {
    return toml_.Error(*kt.get("piv_slot"), kpath + ".piv_slot", "must be " + PivSlotNames());
  }
  if (!slots->insert(k->piv_slot).second) {
    return toml_.Error(*kt.get("piv_slot"), kpath + ".piv_slot",
                       "slot " + k->piv_slot + " is used twice");
  }
  return Status::Ok();
}

}  // namespace certpress::profiles

namespace certpress::profiles {

// [card.NAME.piv], optional for piv tokens and refused for others: the card-side policy.
Status Parser::ParsePiv(const toml::table& t, const std::string& path, CardProfile* c) const {
  for (const auto& k : c->keys) {
    if (c->token == TokenKind::kPiv && k.source == KeySource::kServer && k.piv_slot != "9d") {
      return InvalidInput(toml_.Where(t) + path + ".keys." + k.name +
                          ": only the key-management slot 9d takes a server-made (archived) key");
    }
    // A card key made by the server exists for escrow (key recovery of encrypted mail and
    // files): one that is not archived would be a copy outside the card with no purpose.
    if (c->token == TokenKind::kPiv && k.source == KeySource::kServer && !c->archive_keys) {
      return InvalidInput(toml_.Where(t) + path + ".keys." + k.name +
                          ": a server-made card key needs archive_keys = true (it is made "
                          "outside the card only to be archived)");
    }
  }
  const toml::node* node = t.get("piv");
  if (node == nullptr) return Status::Ok();
  const std::string ppath = path + ".piv";
  if (c->token != TokenKind::kPiv) return toml_.Error(*node, ppath, "only for token = \"piv\"");
  const toml::table* pt = node->as_table();
  if (pt == nullptr) return toml_.Error(*node, ppath, "must be a table");
  CP_RETURN_IF_ERROR(toml_.KnownKeys(
      *pt, ppath,
      {"pin_length", "pin_tries", "puk_tries", "management_key", "factory_management_key",
       "master_key", "attestation", "attestation_root", "chuid_years"}));
  PivPolicy& p = c->piv;
  auto int_in = [&](std::string_view key, int lo, int hi, int* out) -> Status {
    CP_ASSIGN_OR_RETURN(int64_t v, toml_.Int(*pt, key, ppath, false, *out));
    if (v < lo || v > hi) {
      return toml_.Error(*pt->get(key), ppath + "." + std::string(key),
                         "must be " + std::to_string(lo) + " to " + std::to_string(hi));
    }
    *out = static_cast<int>(v);
    return Status::Ok();
  };
  // FIPS 201-3 4.3.1: a PIN of at least 6 digits; PIV cards hold at most 8.
  CP_RETURN_IF_ERROR(int_in("pin_length", 6, 8, &p.pin_length));
  CP_RETURN_IF_ERROR(int_in("pin_tries", 1, 10, &p.pin_tries));
  CP_RETURN_IF_ERROR(int_in("puk_tries", 1, 10, &p.puk_tries));
  CP_RETURN_IF_ERROR(int_in("chuid_years", 1, 20, &p.chuid_years));
  auto one_of = [&](std::string_view key, std::initializer_list<std::string_view> names,
                    std::string* out) -> Status {
    CP_ASSIGN_OR_RETURN(std::string v, toml_.Str(*pt, key, ppath, false, *out));
    if (std::find(names.begin(), names.end(), v) == names.end()) {
      std::string list;
      for (auto n : names) list += (list.empty() ? "" : ", ") + std::string(n);
      return toml_.Error(*pt->get(key), ppath + "." + std::string(key), "must be one of " + list);
    }
    *out = v;
    return Status::Ok();
  };
  CP_RETURN_IF_ERROR(
      one_of("management_key", {"aes-128", "aes-192", "aes-256", "3des"}, &p.management_key));
  CP_RETURN_IF_ERROR(one_of("factory_management_key", {"aes-128", "aes-192", "aes-256", "3des"},
                            &p.factory_management_key));
  CP_RETURN_IF_ERROR(one_of("attestation", {"required", "if-offered", "off"}, &p.attestation));
  CP_ASSIGN_OR_RETURN(p.master_key, toml_.Str(*pt, "master_key", ppath, false, p.master_key));
  if (p.master_key.empty()) return toml_.Error(*pt->get("master_key"), ppath, "must not be empty");
  CP_ASSIGN_OR_RETURN(p.attestation_root, toml_.Str(*pt, "attestation_root", ppath, false));
  if (p.attestation == "required" && p.attestation_root.empty()) {
    return toml_.Error(*node, ppath, "attestation = \"required\" needs attestation_root");
  }
  return Status::Ok();
}

}  // namespace certpress::profiles
