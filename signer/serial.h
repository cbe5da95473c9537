// serial.h: certificate serial numbers. RFC 5280 4.1.2.2: positive, unique per issuer, at
// most 20 octets; CA/B Forum BR 7.1 asks for at least 64 bits from a CSPRNG. We take 128 bits.
#pragma once

#include <cstdint>
#include <string>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

struct Serial {
  // Magnitude, big-endian, no leading zero octets; DER adds a 0x00 if the top bit is set.
  uint8_t bytes[20] = {};
  uint8_t len = 0;

  ByteSpan span() const { return {bytes, len}; }
  // Hex renders the magnitude in upper-case hex, as `openssl x509 -serial` prints it.
  std::string Hex() const;
};

// RandomSerial draws 128 bits from OpenSSL's CSPRNG (RAND_bytes) and strips leading zero
// octets. The all-zero draw (probability 2^-128) is drawn again: zero is not positive.
Result<Serial> RandomSerial();

// SerialFromHex parses the Hex() form back.
Result<Serial> SerialFromHex(std::string_view hex);

}  // namespace certpress
