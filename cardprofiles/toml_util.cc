#include "cardprofiles/toml_util.h"

#include <algorithm>
#include <sstream>

namespace certpress::profiles {

Status TomlReader::Parse(std::string_view text, toml::table* out) const {
  // Debian's libtomlplusplus is built with exceptions, so the parse error arrives as one;
  // it is caught here and never leaves the module.
  try {
    *out = toml::parse(text, source_);
  } catch (const toml::parse_error& e) {
    return InvalidInput(source_ + ":" + std::to_string(e.source().begin.line) + ":" +
                        std::to_string(e.source().begin.column) + ": " +
                        std::string(e.description()));
  }
  return Status::Ok();
}

std::string TomlReader::Where(const toml::node& n) const {
  return source_ + ":" + std::to_string(n.source().begin.line) + ":" +
         std::to_string(n.source().begin.column) + ": ";
}

Status TomlReader::Error(const toml::node& n, const std::string& path,
                         const std::string& what) const {
  return InvalidInput(Where(n) + path + ": " + what);
}

Status TomlReader::KnownKeys(const toml::table& t, const std::string& path,
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

Result<std::string> TomlReader::Str(const toml::table& t, std::string_view key,
                                    const std::string& path, bool required,
                                    std::string fallback) const {
  const toml::node* n = t.get(key);
  const std::string p = path + "." + std::string(key);
  if (n == nullptr) {
    if (required) return InvalidInput(Where(t) + p + ": is required");
    return fallback;
  }
  if (!n->is_string()) return Error(*n, p, "must be a string");
  return std::string(n->as_string()->get());
}

Result<int64_t> TomlReader::Int(const toml::table& t, std::string_view key, const std::string& path,
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

Result<bool> TomlReader::Bool(const toml::table& t, std::string_view key, const std::string& path,
                              bool fallback) const {
  const toml::node* n = t.get(key);
  if (n == nullptr) return fallback;
  if (!n->is_boolean()) return Error(*n, path + "." + std::string(key), "must be true or false");
  return n->as_boolean()->get();
}

Result<const toml::array*> TomlReader::ArrayAt(const toml::table& t, std::string_view key,
                                               const std::string& p, bool required,
                                               const char* what) const {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (required) return InvalidInput(Where(t) + p + ": is required");
    return static_cast<const toml::array*>(nullptr);
  }
  const toml::array* a = n->as_array();
  if (a == nullptr) return Error(*n, p, std::string("must be ") + what);
  return a;
}

Result<std::vector<LocatedString>> TomlReader::Strings(const toml::table& t, std::string_view key,
                                                       const std::string& path,
                                                       bool required) const {
  std::vector<LocatedString> out;
  const std::string p = path + "." + std::string(key);
  CP_ASSIGN_OR_RETURN(const toml::array* a, ArrayAt(t, key, p, required, "an array of strings"));
  if (a == nullptr) return out;
  for (const auto& el : *a) {
    if (!el.is_string()) return Error(el, p, "must be an array of strings");
    out.emplace_back(std::string(el.as_string()->get()), &el);
  }
  return out;
}

Result<std::vector<LocatedPair>> TomlReader::Pairs(const toml::table& t, std::string_view key,
                                                   const std::string& path, bool required) const {
  std::vector<LocatedPair> out;
  const std::string p = path + "." + std::string(key);
  CP_ASSIGN_OR_RETURN(const toml::array* a,
                      ArrayAt(t, key, p, required, "an array of [name, template] pairs"));
  if (a == nullptr) return out;
  for (const auto& el : *a) {
    const toml::array* pr = el.as_array();
    if (pr == nullptr || pr->size() != 2 || !pr->get(0)->is_string() || !pr->get(1)->is_string()) {
      return Error(el, p, "each entry must be a [name, template] pair of strings");
    }
    out.emplace_back(std::string(pr->get(0)->as_string()->get()),
                     std::string(pr->get(1)->as_string()->get()), &el);
  }
  return out;
}

std::string TomlReader::Canonical(const toml::table& t) {
  std::ostringstream ss;
  ss << toml::toml_formatter{t};
  return ss.str();
}

}  // namespace certpress::profiles
