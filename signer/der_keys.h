// der_keys.h: the DER of keys and signatures a token hands us in pieces. A PKCS#11 token gives a
// public key as attributes (CKA_EC_PARAMS and CKA_EC_POINT, or CKA_MODULUS and
// CKA_PUBLIC_EXPONENT) and an ECDSA signature as raw r || s; X.509 wants a
// SubjectPublicKeyInfo (RFC 5280 4.1.2.7) and a DER ECDSA-Sig-Value (RFC 5480 2.2). Built with
// our DER writer (der.h); no OpenSSL, so the unit tests can check it against OpenSSL.
#pragma once

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::der {

// EcSpki returns the SubjectPublicKeyInfo of an EC public key: algorithm id-ecPublicKey with
// |params| (the DER ECParameters, normally the curve's OID element: the CKA_EC_PARAMS value)
// copied as they are, and the X9.62 point |point| as the BIT STRING (RFC 5480 2). |point| may
// be wrapped in a DER OCTET STRING, as CKA_EC_POINT is (PKCS#11 v2.40 2.3.3), or bare, as some
// modules give it: an OCTET STRING that spans all of |point| is unwrapped.
Bytes EcSpki(ByteSpan params, ByteSpan point);

// RsaSpki returns the SubjectPublicKeyInfo of an RSA public key: rsaEncryption with NULL
// parameters and the RSAPublicKey { modulus, publicExponent } (RFC 8017 A.1.1) from the
// big-endian magnitudes |modulus| and |exponent| (CKA_MODULUS, CKA_PUBLIC_EXPONENT).
Bytes RsaSpki(ByteSpan modulus, ByteSpan exponent);

// EcdsaSigFromRaw converts a raw ECDSA signature r || s, each half as long as the group order
// (what CKM_ECDSA returns, PKCS#11 v2.40 2.3.6), to the DER ECDSA-Sig-Value ::= SEQUENCE { r
// INTEGER, s INTEGER } (RFC 5480 2.2) in minimal form. An empty or odd-length |raw| is invalid
// input.
Result<Bytes> EcdsaSigFromRaw(ByteSpan raw);

}  // namespace certpress::der
