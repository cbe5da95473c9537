// der_keys.cc: SubjectPublicKeyInfo and ECDSA-Sig-Value from the pieces a token gives (see
// der_keys.h).
#include "signer/der_keys.h"

#include <string>

#include "signer/der.h"

namespace certpress::der {

Bytes EcSpki(ByteSpan params, ByteSpan point) {
  static constexpr uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
  Writer w;
  size_t seq = w.Begin(kSequence);
  size_t alg = w.Begin(kSequence);
  w.OidContent(kEcPublicKey);
  w.Raw(params);
  w.End(alg);
  ByteSpan raw = point;
  Reader r(point);
  ByteSpan inner;
  if (r.Read(kOctetString, &inner) && r.empty()) raw = inner;
  w.BitString(raw);
  w.End(seq);
  return w.Take();
}

Bytes RsaSpki(ByteSpan modulus, ByteSpan exponent) {
  static constexpr uint8_t kRsaEncryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                               0x0d, 0x01, 0x01, 0x01};
  Writer w;
  size_t seq = w.Begin(kSequence);
  size_t alg = w.Begin(kSequence);
  w.OidContent(kRsaEncryption);
  w.Null();
  w.End(alg);
  Writer k;
  size_t ks = k.Begin(kSequence);
  k.Integer(modulus);
  k.Integer(exponent);
  k.End(ks);
  w.BitString(k.bytes());
  w.End(seq);
  return w.Take();
}

Result<Bytes> EcdsaSigFromRaw(ByteSpan raw) {
  if (raw.empty() || raw.size() % 2 != 0) {
    return InvalidInput("a raw ECDSA signature r || s of odd length " + std::to_string(raw.size()));
  }
  const size_t half = raw.size() / 2;
  Writer w;
  size_t seq = w.Begin(kSequence);
  w.Integer(raw.subspan(0, half));
  w.Integer(raw.subspan(half));
  w.End(seq);
  return w.Take();
}

}  // namespace certpress::der
