#include "cardprofiles/key_types.h"

#include "cardprofiles/spelling.h"

namespace certpress {

namespace {

// InEnumOrder is true when row i spells enumerator i, so that a value indexes its table (the
// signer keeps one key generation context per key type that way).
template <class Row, size_t N>
constexpr bool InEnumOrder(const Row (&table)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (static_cast<size_t>(table[i].value) != i) return false;
  }
  return true;
}
static_assert(InEnumOrder(kKeyTypes));
static_assert(InEnumOrder(kPivSlots));

}  // namespace

std::optional<KeyType> FindKeyType(std::string_view name) {
  return FromName(kKeyTypes, name);
}

Result<KeyType> ParseKeyType(std::string_view name) {
  if (auto type = FindKeyType(name)) return *type;
  return InvalidInput("unknown key type '" + std::string(name) + "' (expected " + KeyTypeNames() +
                      ")");
}

std::string_view KeyTypeName(KeyType type) {
  return NameOf(kKeyTypes, type);
}

std::string KeyTypeNames() {
  return NameList(kKeyTypes);
}

bool IsEc(KeyType type) {
  return RsaBits(type) == 0;
}

int RsaBits(KeyType type) {
  for (const auto& row : kKeyTypes) {
    if (row.value == type) return row.rsa_bits;
  }
  return 0;
}

std::optional<PivSlot> FindPivSlot(std::string_view name) {
  return FromName(kPivSlots, name);
}

std::string_view PivSlotName(PivSlot slot) {
  return NameOf(kPivSlots, slot);
}

std::string PivSlotNames() {
  return NameList(kPivSlots);
}

uint8_t PivKeyReference(PivSlot slot) {
  for (const auto& row : kPivSlots) {
    if (row.value == slot) return row.key_reference;
  }
  return 0;
}

uint32_t PivCertificateTag(PivSlot slot) {
  for (const auto& row : kPivSlots) {
    if (row.value == slot) return row.certificate_tag;
  }
  return 0;
}

}  // namespace certpress
