// profile_fuzz: libFuzzer target for cardprofiles/profile.h (LoadProfilesFromString: the TOML
// parser of toml++ and our checks of card and certificate profiles).
//
// Properties: loading never crashes, throws or runs away; a profile set it accepts is
// consistent: every key's certificate profile exists and passes Validate, each subject and SAN
// template renders from the card's fields, a natural key names a required field.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "cardprofiles/profile.h"

using namespace certpress::profiles;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "profile_fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto set = LoadProfilesFromString(text, "fuzz.toml");
  if (!set.ok()) return 0;
  for (const auto& [name, cert] : set->certificates) {
    if (!Validate(cert).ok()) Fail("an accepted certificate profile fails Validate");
  }
  for (const auto& [name, card] : set->cards) {
    for (const auto& key : card.keys) {
      if (!set->Certificate(key.cert_profile).ok()) Fail("a key names a missing profile");
    }
    std::map<std::string, std::string> fields;
    for (const auto& f : card.fields) fields[f.name] = "x";
    for (const auto& s : card.subject) {
      if (!RenderTemplate(s.value, fields).ok()) Fail("a subject template does not render");
    }
    for (const auto& s : card.sans) {
      if (!RenderTemplate(s.value, fields).ok()) Fail("a SAN template does not render");
    }
    if (!card.natural_key.empty()) {
      const FieldSpec* nk = card.Field(card.natural_key);
      if (nk == nullptr || !nk->required) Fail("natural key is not a required field");
    }
  }
  return 0;
}
