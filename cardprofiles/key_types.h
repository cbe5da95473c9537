// key_types.h: the key types and PIV key slots CertPress names everywhere. Each has one table
// here, the only place their names are spelled: profiles (`algorithm`, `allowed_algorithms`,
// `piv_slot`), the command line (--key-type), the cas table's key_type column and the signer
// all parse and print through it. The crypto that goes with a key type (digests, OIDs, key
// generation) is in signer/key_type.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace certpress {

enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa3072, kRsa4096 };

struct KeyTypeRow {
  KeyType value;
  std::string_view name;
  int rsa_bits;  // the modulus size; 0 for EC keys
};

// kKeyTypes spells every KeyType, in enumerator order (a KeyType indexes it) and in the
// order error messages list them.
inline constexpr KeyTypeRow kKeyTypes[] = {
    {KeyType::kEcP256, "ec-p256", 0},      {KeyType::kEcP384, "ec-p384", 0},
    {KeyType::kRsa2048, "rsa-2048", 2048}, {KeyType::kRsa3072, "rsa-3072", 3072},
    {KeyType::kRsa4096, "rsa-4096", 4096},
};

// FindKeyType returns the key type spelled |name|, or nothing.
std::optional<KeyType> FindKeyType(std::string_view name);
// ParseKeyType accepts exactly the spelled names; the error lists them ("unknown key type
// 'ec-p521' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)").
Result<KeyType> ParseKeyType(std::string_view name);
// KeyTypeName is the spelling of |type| ("ec-p256").
std::string_view KeyTypeName(KeyType type);
// KeyTypeNames lists every spelling: "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096".
std::string KeyTypeNames();
bool IsEc(KeyType type);
// RsaBits is the modulus size of an RSA |type|, 0 for EC.
int RsaBits(KeyType type);

// The PIV key slots a card profile may fill. The retired key-management slots (82-95) and the
// card management key (9B) are not among them.
enum class PivSlot { kAuthentication, kSignature, kKeyManagement, kCardAuthentication };

struct PivSlotRow {
  PivSlot value;
  std::string_view name;  // the key reference in lower-case hex, as profiles spell it
  // The key reference of the slot's private key, as SP 800-73-4 Part 1 assigns it.
  uint8_t key_reference;
  // The BER-TLV tag of the data object that holds the slot's X.509 certificate (SP 800-73-4
  // Part 1: X.509 Certificate for PIV Authentication 5FC105, for Digital Signature 5FC10A,
  // for Key Management 5FC10B, for Card Authentication 5FC101).
  uint32_t certificate_tag;
};

// kPivSlots spells every PivSlot, in enumerator order and in the order error messages list
// them.
inline constexpr PivSlotRow kPivSlots[] = {
    {PivSlot::kAuthentication, "9a", 0x9a, 0x5fc105},
    {PivSlot::kSignature, "9c", 0x9c, 0x5fc10a},
    {PivSlot::kKeyManagement, "9d", 0x9d, 0x5fc10b},
    {PivSlot::kCardAuthentication, "9e", 0x9e, 0x5fc101},
};

// FindPivSlot returns the slot spelled |name| ("9a"), or nothing.
std::optional<PivSlot> FindPivSlot(std::string_view name);
std::string_view PivSlotName(PivSlot slot);
// PivSlotNames lists every spelling: "9a, 9c, 9d or 9e".
std::string PivSlotNames();
uint8_t PivKeyReference(PivSlot slot);
uint32_t PivCertificateTag(PivSlot slot);

}  // namespace certpress
