#include "cardprofiles/profile_parser.h"

namespace certpress::profiles {

Status Parser::Parse(std::string_view text) {
  toml::table root;
  CP_RETURN_IF_ERROR(toml_.Parse(text, &root));
  CP_RETURN_IF_ERROR(toml_.KnownKeys(root, "", {"certificate", "card"}));
  // Each top-level table holds named sub-tables: [certificate.NAME] and [card.NAME].
  auto each = [&](const char* kind, auto parse) -> Status {
    const toml::node* top = root.get(kind);
    if (top == nullptr) return Status::Ok();
    const toml::table* tables = top->as_table();
    if (tables == nullptr) return toml_.Error(*top, kind, "must be a table");
    for (auto&& [name, node] : *tables) {
      const std::string path = std::string(kind) + "." + std::string(name.str());
      auto* t = node.as_table();
      if (t == nullptr) return toml_.Error(node, path, "must be a table");
      CP_RETURN_IF_ERROR(parse(std::string(name.str()), *t, path));
    }
    return Status::Ok();
  };
  CP_RETURN_IF_ERROR(
      each("certificate", [&](std::string n, const toml::table& t, const std::string& p) {
        return ParseCertificate(std::move(n), t, p);
      }));
  CP_RETURN_IF_ERROR(each("card", [&](std::string n, const toml::table& t, const std::string& p) {
    return ParseCard(std::move(n), t, p);
  }));
  return Status::Ok();
}

Status Parser::ParseCertificate(const std::string& name, const toml::table& t,
                                const std::string& path) {
  CP_RETURN_IF_ERROR(
      toml_.KnownKeys(t, path,
                      {"validity_days", "backdate_seconds", "key_usage", "extended_key_usage",
                       "san_types", "policies", "crl_urls", "ocsp_urls", "ca_issuers_urls", "is_ca",
                       "path_len", "allow_internal_names"}));
  CertProfile p;
  p.name = name;
  CP_ASSIGN_OR_RETURN(int64_t days, toml_.Int(t, "validity_days", path, true, 0));
  if (days <= 0 || days > 36500) {
    return toml_.Error(*t.get("validity_days"), path + ".validity_days", "must be 1 to 36500");
  }
  p.validity_days = static_cast<int>(days);
  CP_ASSIGN_OR_RETURN(int64_t back, toml_.Int(t, "backdate_seconds", path, false, 0));
  p.backdate_seconds = static_cast<int>(back);
  CP_ASSIGN_OR_RETURN(p.is_ca, toml_.Bool(t, "is_ca", path, false));
  CP_ASSIGN_OR_RETURN(p.allow_internal_names, toml_.Bool(t, "allow_internal_names", path, false));
  if (t.contains("path_len")) {
    CP_ASSIGN_OR_RETURN(int64_t pl, toml_.Int(t, "path_len", path, true, 0));
    p.path_len = static_cast<int>(pl);
  }
  CP_ASSIGN_OR_RETURN(auto kus, toml_.Strings(t, "key_usage", path, true));
  for (const auto& [v, node] : kus) {
    auto bit = ParseKeyUsage(v);
    if (!bit.ok()) return toml_.Error(*node, path + ".key_usage", bit.status().message());
    p.key_usage |= *bit;
  }
  CP_ASSIGN_OR_RETURN(auto ekus, toml_.Strings(t, "extended_key_usage", path, false));
  for (const auto& [v, node] : ekus) {
    auto oid = ExtendedKeyUsageOid(v);
    if (!oid.ok()) {
      return toml_.Error(*node, path + ".extended_key_usage", oid.status().message());
    }
    p.extended_key_usage.push_back(*oid);
  }
  CP_ASSIGN_OR_RETURN(auto sans, toml_.Strings(t, "san_types", path, false));
  for (const auto& [v, node] : sans) {
    auto st = ParseSanType(v);
    if (!st.ok()) return toml_.Error(*node, path + ".san_types", st.status().message());
    p.san_types.push_back(*st);
  }
  auto plain = [&](std::string_view key, std::vector<std::string>* out) -> Status {
    CP_ASSIGN_OR_RETURN(auto vals, toml_.Strings(t, key, path, false));
    for (auto& [v, node] : vals) out->push_back(v);
    return Status::Ok();
  };
  CP_RETURN_IF_ERROR(plain("policies", &p.policies));
  CP_RETURN_IF_ERROR(plain("crl_urls", &p.crl_urls));
  CP_RETURN_IF_ERROR(plain("ocsp_urls", &p.ocsp_urls));
  CP_RETURN_IF_ERROR(plain("ca_issuers_urls", &p.ca_issuers_urls));
  Status v = Validate(p);
  if (!v.ok()) return InvalidInput(toml_.Where(t) + path + ": " + v.message());
  if (!out_->certificates.emplace(name, std::move(p)).second) {
    return InvalidInput(toml_.Where(t) + path + ": defined twice");
  }
  canonical_certs_[name] = TomlReader::Canonical(t);
  return Status::Ok();
}

}  // namespace certpress::profiles
