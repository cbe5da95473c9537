#include "cardprofiles/profile.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <toml++/toml.h>

#include <algorithm>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "common/bytes.h"
#include "common/ossl.h"

namespace certpress::profiles {

namespace {

// Each enum's spelling in the TOML, one table per enum for parsing, naming and the error text.
template <class E>
struct Spelling {
  E value;
  std::string_view name;
};
constexpr Spelling<TokenKind> kTokenKinds[] = {
    {TokenKind::kSoft, "soft"}, {TokenKind::kPiv, "piv"}, {TokenKind::kCsr, "csr"}};
constexpr Spelling<Delivery> kDeliveries[] = {{Delivery::kActivationEmail, "activation-email"},
                                              {Delivery::kStation, "station"},
                                              {Delivery::kNone, "none"}};
constexpr Spelling<FieldKind> kFieldKinds[] = {{FieldKind::kText, "text"},
                                               {FieldKind::kEmail, "email"},
                                               {FieldKind::kDns, "dns"},
                                               {FieldKind::kDnsList, "dns-list"}};
constexpr Spelling<KeySource> kKeySources[] = {{KeySource::kServer, "server"},
                                               {KeySource::kCard, "card"},
                                               {KeySource::kRequester, "requester"}};

template <class E, size_t N>
std::optional<E> FromName(const Spelling<E> (&table)[N], std::string_view name) {
  for (const auto& sp : table) {
    if (sp.name == name) return sp.value;
  }
  return std::nullopt;
}

template <class E, size_t N>
std::string_view NameOf(const Spelling<E> (&table)[N], E value) {
  for (const auto& sp : table) {
    if (sp.value == value) return sp.name;
  }
  return "?";
}

// "must be a, b or c"
template <class E, size_t N>
std::string MustBeOneOf(const Spelling<E> (&table)[N]) {
  std::string out = "must be ";
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

constexpr std::string_view kAttributes[] = {"CN",           "SN",       "GN",
                                            "serialNumber", "C",        "L",
                                            "ST",           "street",   "O",
                                            "OU",           "title",    "postalCode",
                                            "UID",          "DC",       "emailAddress",
                                            "pseudonym",    "initials", "organizationIdentifier"};
constexpr std::string_view kAlgorithms[] = {"ec-p256", "ec-p384", "rsa-2048", "rsa-3072",
                                            "rsa-4096"};
constexpr std::string_view kPivSlots[] = {"9a", "9c", "9d", "9e"};

template <size_t N>
bool OneOf(std::string_view v, const std::string_view (&list)[N]) {
  return std::find(std::begin(list), std::end(list), v) != std::end(list);
}

// Parser reads one TOML document into a ProfileSet, keeping every error's location.
class Parser {
 public:
  Parser(std::string source, ProfileSet* out) : source_(std::move(source)), out_(out) {}

  Status Parse(std::string_view text) {
    // Debian's libtomlplusplus is built with exceptions, so the parse error arrives as one;
    // it is caught here and never leaves the module.
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return InvalidInput(source_ + ":" + std::to_string(e.source().begin.line) + ":" +
                          std::to_string(e.source().begin.column) + ": " +
                          std::string(e.description()));
    }
    CP_RETURN_IF_ERROR(KnownKeys(root, "", {"certificate", "card"}));
    if (auto* certs = root["certificate"].as_table()) {
      for (auto&& [name, node] : *certs) {
        const std::string path = "certificate." + std::string(name.str());
        auto* t = node.as_table();
        if (t == nullptr) return Error(node, path, "must be a table");
        CP_RETURN_IF_ERROR(ParseCertificate(std::string(name.str()), *t, path));
      }
    } else if (root.contains("certificate")) {
      return Error(*root.get("certificate"), "certificate", "must be a table");
    }
    if (auto* cards = root["card"].as_table()) {
      for (auto&& [name, node] : *cards) {
        const std::string path = "card." + std::string(name.str());
        auto* t = node.as_table();
        if (t == nullptr) return Error(node, path, "must be a table");
        CP_RETURN_IF_ERROR(ParseCard(std::string(name.str()), *t, path));
      }
    } else if (root.contains("card")) {
      return Error(*root.get("card"), "card", "must be a table");
    }
    return Status::Ok();
  }

 private:
  std::string Where(const toml::node& n) const {
    return source_ + ":" + std::to_string(n.source().begin.line) + ":" +
           std::to_string(n.source().begin.column) + ": ";
  }
  Status Error(const toml::node& n, const std::string& path, const std::string& what) const {
    return InvalidInput(Where(n) + path + ": " + what);
  }

  Status KnownKeys(const toml::table& t, const std::string& path,
                   std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      (void)v;
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        // Point at the key itself (not its value): that is what the author mistyped.
        return InvalidInput(source_ + ":" + std::to_string(k.source().begin.line) + ":" +
                            std::to_string(k.source().begin.column) + ": " +
                            (path.empty() ? "" : path + ".") + std::string(k.str()) +
                            ": unknown key (expected one of: " + list + ")");
      }
    }
    return Status::Ok();
  }

  Result<std::string> Str(const toml::table& t, std::string_view key, const std::string& path,
                          bool required, std::string fallback = "") const {
    const toml::node* n = t.get(key);
    const std::string p = path + "." + std::string(key);
    if (n == nullptr) {
      if (required) return InvalidInput(Where(t) + p + ": is required");
      return fallback;
    }
    if (!n->is_string()) return Error(*n, p, "must be a string");
    return std::string(n->as_string()->get());
  }

  Result<int64_t> Int(const toml::table& t, std::string_view key, const std::string& path,
                      bool required, int64_t fallback) const {
    const toml::node* n = t.get(key);
    const std::string p = path + "." + std::string(key);
    if (n == nullptr) {
      if (required) return InvalidInput(Where(t) + p + ": is required");
      return fallback;
    }
    if (!n->is_integer()) return Error(*n, p, "must be an integer");
    return n->as_integer()->get();
  }

  Result<bool> Bool(const toml::table& t, std::string_view key, const std::string& path,
                    bool fallback) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return fallback;
    if (!n->is_boolean()) return Error(*n, path + "." + std::string(key), "must be true or false");
    return n->as_boolean()->get();
  }

  // Strings reads an array of strings; each element's location is kept for later errors.
  Result<std::vector<std::pair<std::string, const toml::node*>>> Strings(const toml::table& t,
                                                                         std::string_view key,
                                                                         const std::string& path,
                                                                         bool required) const {
    std::vector<std::pair<std::string, const toml::node*>> out;
    const toml::node* n = t.get(key);
    const std::string p = path + "." + std::string(key);
    if (n == nullptr) {
      if (required) return InvalidInput(Where(t) + p + ": is required");
      return out;
    }
    const toml::array* a = n->as_array();
    if (a == nullptr) return Error(*n, p, "must be an array of strings");
    for (const auto& el : *a) {
      if (!el.is_string()) return Error(el, p, "must be an array of strings");
      out.emplace_back(std::string(el.as_string()->get()), &el);
    }
    return out;
  }

  Status ParseCertificate(const std::string& name, const toml::table& t, const std::string& path) {
    CP_RETURN_IF_ERROR(KnownKeys(
        t, path,
        {"validity_days", "backdate_seconds", "key_usage", "extended_key_usage", "san_types",
         "policies", "crl_urls", "ocsp_urls", "ca_issuers_urls", "is_ca", "path_len"}));
    CertProfile p;
    p.name = name;
    CP_ASSIGN_OR_RETURN(int64_t days, Int(t, "validity_days", path, true, 0));
    if (days <= 0 || days > 36500) {
      return Error(*t.get("validity_days"), path + ".validity_days", "must be 1 to 36500");
    }
    p.validity_days = static_cast<int>(days);
    CP_ASSIGN_OR_RETURN(int64_t back, Int(t, "backdate_seconds", path, false, 0));
    p.backdate_seconds = static_cast<int>(back);
    CP_ASSIGN_OR_RETURN(p.is_ca, Bool(t, "is_ca", path, false));
    if (t.contains("path_len")) {
      CP_ASSIGN_OR_RETURN(int64_t pl, Int(t, "path_len", path, true, 0));
      p.path_len = static_cast<int>(pl);
    }
    CP_ASSIGN_OR_RETURN(auto kus, Strings(t, "key_usage", path, true));
    for (const auto& [v, node] : kus) {
      auto bit = ParseKeyUsage(v);
      if (!bit.ok()) return Error(*node, path + ".key_usage", bit.status().message());
      p.key_usage |= *bit;
    }
    CP_ASSIGN_OR_RETURN(auto ekus, Strings(t, "extended_key_usage", path, false));
    for (const auto& [v, node] : ekus) {
      auto oid = ExtendedKeyUsageOid(v);
      if (!oid.ok()) return Error(*node, path + ".extended_key_usage", oid.status().message());
      p.extended_key_usage.push_back(*oid);
    }
    CP_ASSIGN_OR_RETURN(auto sans, Strings(t, "san_types", path, false));
    for (const auto& [v, node] : sans) {
      auto st = ParseSanType(v);
      if (!st.ok()) return Error(*node, path + ".san_types", st.status().message());
      p.san_types.push_back(*st);
    }
    auto plain = [&](std::string_view key, std::vector<std::string>* out) -> Status {
      CP_ASSIGN_OR_RETURN(auto vals, Strings(t, key, path, false));
      for (auto& [v, node] : vals) out->push_back(v);
      return Status::Ok();
    };
    CP_RETURN_IF_ERROR(plain("policies", &p.policies));
    CP_RETURN_IF_ERROR(plain("crl_urls", &p.crl_urls));
    CP_RETURN_IF_ERROR(plain("ocsp_urls", &p.ocsp_urls));
    CP_RETURN_IF_ERROR(plain("ca_issuers_urls", &p.ca_issuers_urls));
    Status v = Validate(p);
    if (!v.ok()) return InvalidInput(Where(t) + path + ": " + v.message());
    if (!out_->certificates.emplace(name, std::move(p)).second) {
      return InvalidInput(Where(t) + path + ": defined twice");
    }
    canonical_certs_[name] = Canonical(t);
    return Status::Ok();
  }

  Status ParseCard(const std::string& name, const toml::table& t, const std::string& path) {
    CP_RETURN_IF_ERROR(KnownKeys(t, path,
                                 {"description", "token", "approvals", "delivery", "natural_key",
                                  "ca", "subject", "sans", "fields", "keys"}));
    CardProfile c;
    c.name = name;
    CP_ASSIGN_OR_RETURN(c.description, Str(t, "description", path, false));
    CP_ASSIGN_OR_RETURN(std::string token, Str(t, "token", path, true));
    auto token_kind = FromName(kTokenKinds, token);
    if (!token_kind) return Error(*t.get("token"), path + ".token", MustBeOneOf(kTokenKinds));
    c.token = *token_kind;
    CP_ASSIGN_OR_RETURN(int64_t approvals, Int(t, "approvals", path, true, 1));
    if (approvals < 0 || approvals > 2) {
      return Error(*t.get("approvals"), path + ".approvals", "must be 0, 1 or 2");
    }
    c.approvals = static_cast<int>(approvals);
    CP_ASSIGN_OR_RETURN(std::string delivery, Str(t, "delivery", path, false, "none"));
    auto delivery_kind = FromName(kDeliveries, delivery);
    if (!delivery_kind) {
      return Error(*t.get("delivery"), path + ".delivery", MustBeOneOf(kDeliveries));
    }
    c.delivery = *delivery_kind;
    CP_ASSIGN_OR_RETURN(c.natural_key, Str(t, "natural_key", path, false));
    CP_ASSIGN_OR_RETURN(c.ca, Str(t, "ca", path, false));

    // Fields.
    const toml::node* fnode = t.get("fields");
    if (fnode == nullptr) return InvalidInput(Where(t) + path + ".fields: is required");
    const toml::table* ft = fnode->as_table();
    if (ft == nullptr) return Error(*fnode, path + ".fields", "must be a table");
    for (auto&& [fname, fv] : *ft) {
      const std::string fpath = path + ".fields." + std::string(fname.str());
      const toml::table* spec = fv.as_table();
      if (spec == nullptr) return Error(fv, fpath, "must be an inline table");
      CP_RETURN_IF_ERROR(KnownKeys(*spec, fpath, {"required", "max_length", "pattern", "kind"}));
      FieldSpec f;
      f.name = std::string(fname.str());
      CP_ASSIGN_OR_RETURN(f.required, Bool(*spec, "required", fpath, false));
      CP_ASSIGN_OR_RETURN(int64_t ml, Int(*spec, "max_length", fpath, false, 128));
      if (ml < 1 || ml > 4096)
        return Error(*spec->get("max_length"), fpath + ".max_length", "must be 1 to 4096");
      f.max_length = static_cast<size_t>(ml);
      CP_ASSIGN_OR_RETURN(f.pattern, Str(*spec, "pattern", fpath, false));
      if (!f.pattern.empty()) {
        // std::regex reports a bad pattern only by throwing; keep it inside this function.
        try {
          std::regex re(f.pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          return Error(*spec->get("pattern"), fpath + ".pattern",
                       std::string("is not a valid regular expression: ") + e.what());
        }
      }
      CP_ASSIGN_OR_RETURN(std::string kind, Str(*spec, "kind", fpath, false, "text"));
      auto field_kind = FromName(kFieldKinds, kind);
      if (!field_kind) return Error(*spec->get("kind"), fpath + ".kind", MustBeOneOf(kFieldKinds));
      f.kind = *field_kind;
      c.fields.push_back(std::move(f));
    }
    if (!c.natural_key.empty()) {
      const FieldSpec* nk = c.Field(c.natural_key);
      if (nk == nullptr || !nk->required) {
        return Error(*t.get("natural_key"), path + ".natural_key", "must name a required field");
      }
    }

    // Subject and SAN templates: [["CN", "{given_name} {surname}"], ...].
    auto pairs = [&](std::string_view key, bool required)
        -> Result<std::vector<std::tuple<std::string, std::string, const toml::node*>>> {
      std::vector<std::tuple<std::string, std::string, const toml::node*>> out;
      const toml::node* n = t.get(key);
      const std::string p = path + "." + std::string(key);
      if (n == nullptr) {
        if (required) return InvalidInput(Where(t) + p + ": is required");
        return out;
      }
      const toml::array* a = n->as_array();
      if (a == nullptr) return Error(*n, p, "must be an array of [name, template] pairs");
      for (const auto& el : *a) {
        const toml::array* pr = el.as_array();
        if (pr == nullptr || pr->size() != 2 || !pr->get(0)->is_string() ||
            !pr->get(1)->is_string()) {
          return Error(el, p, "each entry must be a [name, template] pair of strings");
        }
        out.emplace_back(std::string(pr->get(0)->as_string()->get()),
                         std::string(pr->get(1)->as_string()->get()), &el);
      }
      return out;
    };
    std::map<std::string, std::string> probe;
    for (const auto& f : c.fields) probe[f.name] = "x";
    CP_ASSIGN_OR_RETURN(auto subject, pairs("subject", true));
    for (auto& [attr, tmpl, node] : subject) {
      if (!OneOf(attr, kAttributes)) {
        return Error(*node, path + ".subject", "unknown attribute '" + attr + "'");
      }
      auto r = RenderTemplate(tmpl, probe);
      if (!r.ok()) return Error(*node, path + ".subject", r.status().message());
      c.subject.push_back({attr, tmpl});
    }
    CP_ASSIGN_OR_RETURN(auto sans, pairs("sans", false));
    for (auto& [type, tmpl, node] : sans) {
      auto st = ParseSanType(type);
      if (!st.ok()) return Error(*node, path + ".sans", st.status().message());
      auto r = RenderTemplate(tmpl, probe);
      if (!r.ok()) return Error(*node, path + ".sans", r.status().message());
      c.sans.push_back({*st, tmpl});
    }

    // Keys: [[card.NAME.keys]].
    const toml::node* knode = t.get("keys");
    if (knode == nullptr)
      return InvalidInput(Where(t) + path + ".keys: at least one key is required");
    const toml::array* keys = knode->as_array();
    if (keys == nullptr || keys->empty()) {
      return Error(*knode, path + ".keys", "must be a non-empty array of tables ([[...keys]])");
    }
    std::set<std::string> slots, names;
    for (size_t i = 0; i < keys->size(); ++i) {
      const toml::node& kn = *keys->get(i);
      const std::string kpath = path + ".keys[" + std::to_string(i) + "]";
      const toml::table* kt = kn.as_table();
      if (kt == nullptr) return Error(kn, kpath, "must be a table");
      CP_RETURN_IF_ERROR(KnownKeys(
          *kt, kpath,
          {"name", "algorithm", "allowed_algorithms", "source", "certificate", "piv_slot"}));
      KeySpec k;
      CP_ASSIGN_OR_RETURN(k.name, Str(*kt, "name", kpath, true));
      if (!names.insert(k.name).second)
        return Error(kn, kpath + ".name", "'" + k.name + "' is used twice");
      CP_ASSIGN_OR_RETURN(std::string source, Str(*kt, "source", kpath, true));
      auto key_source = FromName(kKeySources, source);
      if (!key_source) {
        return Error(*kt->get("source"), kpath + ".source", MustBeOneOf(kKeySources));
      }
      k.source = *key_source;
      const KeySource expected = c.token == TokenKind::kSoft  ? KeySource::kServer
                                 : c.token == TokenKind::kPiv ? KeySource::kCard
                                                              : KeySource::kRequester;
      if (k.source != expected) {
        return Error(*kt->get("source"), kpath + ".source",
                     "a " + std::string(TokenKindName(c.token)) + " profile's keys come from the " +
                         std::string(KeySourceName(expected)) + ", not the " + source);
      }
      if (k.source == KeySource::kRequester) {
        if (kt->contains("algorithm")) {
          return Error(*kt->get("algorithm"), kpath + ".algorithm",
                       "requester keys take allowed_algorithms instead");
        }
        CP_ASSIGN_OR_RETURN(auto algs, Strings(*kt, "allowed_algorithms", kpath, true));
        if (algs.empty()) return Error(kn, kpath + ".allowed_algorithms", "must not be empty");
        for (auto& [a, node] : algs) {
          if (!OneOf(a, kAlgorithms))
            return Error(*node, kpath + ".allowed_algorithms", "unknown key type '" + a + "'");
          k.allowed_algorithms.push_back(a);
        }
      } else {
        CP_ASSIGN_OR_RETURN(k.algorithm, Str(*kt, "algorithm", kpath, true));
        if (!OneOf(k.algorithm, kAlgorithms)) {
          return Error(*kt->get("algorithm"), kpath + ".algorithm",
                       "unknown key type '" + k.algorithm +
                           "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)");
        }
        if (kt->contains("allowed_algorithms")) {
          return Error(*kt->get("allowed_algorithms"), kpath + ".allowed_algorithms",
                       "only requester keys take allowed_algorithms");
        }
      }
      CP_ASSIGN_OR_RETURN(k.cert_profile, Str(*kt, "certificate", kpath, true));
      cert_refs_.push_back(
          {k.cert_profile, Where(*kt->get("certificate")) + kpath + ".certificate"});
      CP_ASSIGN_OR_RETURN(k.piv_slot, Str(*kt, "piv_slot", kpath, false));
      if (c.token == TokenKind::kPiv) {
        if (k.piv_slot.empty())
          return Error(kn, kpath + ".piv_slot", "is required for piv profiles");
        if (!OneOf(k.piv_slot, kPivSlots)) {
          return Error(*kt->get("piv_slot"), kpath + ".piv_slot", "must be 9a, 9c, 9d or 9e");
        }
        if (!slots.insert(k.piv_slot).second) {
          return Error(*kt->get("piv_slot"), kpath + ".piv_slot",
                       "slot " + k.piv_slot + " is used twice");
        }
      } else if (!k.piv_slot.empty()) {
        return Error(*kt->get("piv_slot"), kpath + ".piv_slot", "only piv profiles have slots");
      }
      c.keys.push_back(std::move(k));
    }
    canonical_cards_[name] = Canonical(t);
    if (!out_->cards.emplace(name, std::move(c)).second) {
      return InvalidInput(Where(t) + path + ": defined twice");
    }
    return Status::Ok();
  }

  static std::string Canonical(const toml::table& t) {
    std::ostringstream ss;
    ss << toml::toml_formatter{t};
    return ss.str();
  }

 public:
  std::string source_;
  ProfileSet* out_;
  std::map<std::string, std::string> canonical_certs_, canonical_cards_;
  std::vector<std::pair<std::string, std::string>> cert_refs_;  // name, location
};

std::array<uint8_t, 32> Sha256(const std::string& text) {
  std::array<uint8_t, 32> md{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr);
  return md;
}

// Finish checks cross-references and computes the content hashes once every file is read.
Status Finish(ProfileSet* set, const std::map<std::string, std::string>& canonical_certs,
              const std::map<std::string, std::string>& canonical_cards,
              const std::vector<std::pair<std::string, std::string>>& refs) {
  for (const auto& [name, where] : refs) {
    if (!set->certificates.count(name)) {
      return InvalidInput(where + ": no [certificate." + name + "] profile");
    }
  }
  for (auto& [name, card] : set->cards) {
    std::string text = "card." + name + "\n" + canonical_cards.at(name);
    std::set<std::string> certs;
    for (const auto& k : card.keys) certs.insert(k.cert_profile);
    for (const auto& c : certs) text += "certificate." + c + "\n" + canonical_certs.at(c);
    card.content_hash = Sha256(text);
  }
  return Status::Ok();
}

}  // namespace

std::string_view TokenKindName(TokenKind k) {
  return NameOf(kTokenKinds, k);
}

std::string_view KeySourceName(KeySource k) {
  return NameOf(kKeySources, k);
}

std::string_view DeliveryName(Delivery d) {
  return NameOf(kDeliveries, d);
}

const FieldSpec* CardProfile::Field(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<const CardProfile*> ProfileSet::Card(std::string_view name) const {
  auto it = cards.find(name);
  if (it != cards.end()) return &it->second;
  std::string known;
  for (const auto& [n, c] : cards) known += (known.empty() ? "" : ", ") + n;
  return NotFound("no card profile '" + std::string(name) + "' (known: " + known + ")");
}

Result<const CertProfile*> ProfileSet::Certificate(std::string_view name) const {
  auto it = certificates.find(name);
  if (it != certificates.end()) return &it->second;
  return NotFound("no certificate profile '" + std::string(name) + "'");
}

Result<std::string> RenderTemplate(std::string_view tmpl,
                                   const std::map<std::string, std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i]);
      continue;
    }
    size_t close = tmpl.find('}', i);
    if (close == std::string_view::npos) {
      return InvalidInput("template '" + std::string(tmpl) + "' has an unclosed '{'");
    }
    std::string name(tmpl.substr(i + 1, close - i - 1));
    auto it = fields.find(name);
    if (it == fields.end()) {
      return InvalidInput("template '" + std::string(tmpl) + "' refers to undeclared field '" +
                          name + "'");
    }
    out += it->second;
    i = close;
  }
  // Optional fields that are empty leave separators behind ("Alice " for "{a} {b}").
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

Result<ProfileSet> LoadProfilesFromString(std::string_view toml, const std::string& source) {
  ProfileSet set;
  Parser p(source, &set);
  CP_RETURN_IF_ERROR(p.Parse(toml));
  CP_RETURN_IF_ERROR(Finish(&set, p.canonical_certs_, p.canonical_cards_, p.cert_refs_));
  return set;
}

Result<ProfileSet> LoadProfiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return NotFound("profile directory " + dir + " does not exist");
  std::vector<std::string> files;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".toml") == 0) files.push_back(n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  if (files.empty()) return NotFound("profile directory " + dir + " has no *.toml files");
  ProfileSet set;
  std::map<std::string, std::string> certs, cards, cert_file, card_file;
  std::vector<std::pair<std::string, std::string>> refs;
  for (const auto& f : files) {
    const std::string path = dir + "/" + f;
    CP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ProfileSet one;
    Parser p(path, &one);
    CP_RETURN_IF_ERROR(p.Parse(text));
    for (auto& [name, c] : one.certificates) {
      if (cert_file.count(name)) {
        return InvalidInput(path + ": certificate." + name + ": already defined in " +
                            cert_file[name]);
      }
      cert_file[name] = path;
      set.certificates.emplace(name, std::move(c));
    }
    for (auto& [name, c] : one.cards) {
      if (card_file.count(name)) {
        return InvalidInput(path + ": card." + name + ": already defined in " + card_file[name]);
      }
      card_file[name] = path;
      set.cards.emplace(name, std::move(c));
    }
    certs.insert(p.canonical_certs_.begin(), p.canonical_certs_.end());
    cards.insert(p.canonical_cards_.begin(), p.canonical_cards_.end());
    refs.insert(refs.end(), p.cert_refs_.begin(), p.cert_refs_.end());
  }
  CP_RETURN_IF_ERROR(Finish(&set, certs, cards, refs));
  return set;
}

}  // namespace certpress::profiles
