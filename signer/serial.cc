#include "signer/serial.h"

#include <openssl/rand.h>

#include <cstring>

#include "common/ossl.h"

namespace certpress {

std::string Serial::Hex() const {
  std::string h = HexEncode(span());
  for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return h;
}

Result<Serial> RandomSerial() {
  for (;;) {
    uint8_t raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) return OsslError("drawing a serial number");
    size_t i = 0;
    while (i < sizeof raw && raw[i] == 0) ++i;
    if (i == sizeof raw) continue;
    Serial s;
    s.len = static_cast<uint8_t>(sizeof raw - i);
    std::memcpy(s.bytes, raw + i, s.len);
    return s;
  }
}

Result<Serial> SerialFromHex(std::string_view hex) {
  std::string padded = hex.size() % 2 ? "0" + std::string(hex) : std::string(hex);
  auto b = HexDecode(padded);
  if (!b.ok()) return b.status().Wrap("serial '" + std::string(hex) + "'");
  size_t i = 0;
  while (i < b->size() && (*b)[i] == 0) ++i;
  if (i == b->size() || b->size() - i > 20) {
    return InvalidInput("serial '" + std::string(hex) + "' must be positive and at most 20 octets");
  }
  Serial s;
  s.len = static_cast<uint8_t>(b->size() - i);
  std::memcpy(s.bytes, b->data() + i, s.len);
  return s;
}

}  // namespace certpress
