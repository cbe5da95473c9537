// pkcs12.h: the PKCS#12 (RFC 7292) that carries a server-generated key, its certificate and
// the chain above it to its holder.
#pragma once

#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"

namespace certpress {

// A PKCS#12 file is attacked offline once it leaves us: its password alone protects the key.
// `cert pkcs12` and the pickup page refuse shorter ones.
inline constexpr size_t kMinPkcs12Password = 8;

// CheckPkcs12Password refuses a password that is not well-formed UTF-8 or that holds a control
// character (U+0000-U+001F, U+007F-U+009F). The PKCS#12 calls take a C string, so an embedded
// NUL would silently cut the password there ("\0xxxxxxxx" became the empty password); the
// others (tab, line break, escape) cannot be typed the same way into every importer, and RFC
// 7292 B.1 turns the password into a BMPString that keeps them. The length is the caller's.
[[nodiscard]] Status CheckPkcs12Password(std::string_view password);

struct Pkcs12Options {
  // Default: PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC for key and certificates, a
  // SHA-256 MAC, |iterations| rounds. Legacy: pbeWithSHA1And3-KeyTripleDES-CBC and a SHA-1
  // MAC with 2048 rounds, for old Windows and Java importers.
  bool legacy = false;
  int iterations = 600000;
  std::string friendly_name;
};

// BuildPkcs12 packs |key|, its certificate and the chain above it (DER certificates, as
// ca::CaChain returns them). A key that does not match the certificate, and a password that
// CheckPkcs12Password refuses, are refused.
Result<Bytes> BuildPkcs12(EVP_PKEY* key, ByteSpan cert_der, const std::vector<std::string>& chain,
                          const SecureString& password, const Pkcs12Options& options);

// Pkcs12Entry is one key with its certificate in a PKCS#12 that carries several.
struct Pkcs12Entry {
  EVP_PKEY* key = nullptr;
  ByteSpan cert_der;
  std::string friendly_name;  // RFC 7292 4.2 friendlyName of the key's and the certificate's bag
};

// BuildPkcs12 packs several keys, each with its certificate (paired by a localKeyId, RFC 7292
// 4.2: the certificate's SHA-1), and the chain certificates (without one) in one PKCS#12: the
// key bags shrouded in one safe, the certificates in one encrypted safe, as PKCS12_create
// lays out a single key, with the same algorithms and MAC. |options|' friendly_name is unused.
Result<Bytes> BuildPkcs12(const std::vector<Pkcs12Entry>& entries,
                          const std::vector<std::string>& chain, const SecureString& password,
                          const Pkcs12Options& options);

}  // namespace certpress
