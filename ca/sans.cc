#include "ca/sans.h"

#include <nlohmann/json.hpp>

namespace certpress::ca {

Result<std::vector<SubjectAltName>> SansFromJson(std::string_view json) {
  std::vector<SubjectAltName> out;
  if (json.empty()) return out;
  auto j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return Internal("stored SAN list is not a JSON array");
  for (const auto& e : j) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_string()) {
      return Internal("stored SAN entry is malformed");
    }
    CP_ASSIGN_OR_RETURN(profiles::SanType t, profiles::ParseSanType(e[0].get<std::string>()));
    out.push_back({t, e[1].get<std::string>()});
  }
  return out;
}

}  // namespace certpress::ca
