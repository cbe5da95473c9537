// token.h: crypto tokens, where CA keys live. A PKCS#11 token (SoftHSM2 by default, any
// PKCS#11 module in production) or a soft token (encrypted PKCS#8 files) for tests and small
// installs. Keys are named by label; KeyUri() gives the RFC 7512 URI recorded with the CA.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"
#include "signer/key_type.h"

namespace certpress {

struct TokenConfig {
  std::string kind = "pkcs11";  // "pkcs11" or "soft"
  // pkcs11: the module path and the token label (tokens are found by label, never by slot).
  std::string module;
  std::string label;
  // soft: the directory of encrypted key files.
  std::string dir;
  // The user PIN (pkcs11) or the key file password (soft).
  SecureString pin;
  // pkcs11: sign with a copy of each private key held as a session object in the token
  // (faster on SoftHSM2; see Pkcs11Token::SessionCopy). Turn off where HSM policy forbids
  // copies of CA keys; a token that refuses to copy is signed with directly either way.
  bool session_copies = true;
};

class CryptoToken {
 public:
  virtual ~CryptoToken() = default;

  // GenerateKey creates a key pair labelled |label| inside the token. Private keys are
  // sensitive and never extractable. Returns the DER SubjectPublicKeyInfo. A label that is
  // already taken is a conflict.
  virtual Result<Bytes> GenerateKey(std::string_view label, KeyType type) = 0;

  // PublicKey returns the SubjectPublicKeyInfo of the key |label|.
  virtual Result<Bytes> PublicKey(std::string_view label) = 0;

  // SignDigest signs |digest| (already hashed with SignatureDigest(type)) with the private key
  // |label| and returns the signature as X.509 carries it: a DER ECDSA-Sig-Value for EC keys,
  // the PKCS#1 v1.5 signature for RSA. Safe to call from many threads at once.
  virtual Result<Bytes> SignDigest(std::string_view label, KeyType type, ByteSpan digest) = 0;

  // EnsureSecretKey makes sure an AES-256 key |label| exists in the token, creating it if
  // needed: sensitive, never extractable, usable only to encrypt and decrypt. It is the key
  // encryption key of envelope encryption (see kgs/ and batch/: data keys are wrapped by it).
  [[nodiscard]] virtual Status EnsureSecretKey(std::string_view label) = 0;

  // SecretEncrypt encrypts |plaintext| with the AES key |label| inside the token, AES-256-GCM
  // with a fresh random 96-bit IV and |aad| authenticated; returns IV || ciphertext || tag.
  virtual Result<Bytes> SecretEncrypt(std::string_view label, ByteSpan plaintext, ByteSpan aad) = 0;
  // SecretDecrypt reverses SecretEncrypt; a wrong key, AAD or a modified blob fails.
  virtual Result<SecureString> SecretDecrypt(std::string_view label, ByteSpan blob,
                                             ByteSpan aad) = 0;

  // EnsureDerivationKey makes sure a derivation key |label| exists in the token, creating it if
  // needed: a 256-bit generic secret, sensitive, never extractable, usable only to compute
  // HMACs. It is a master key from which per-item secrets are derived (kgs/: each PIV card's
  // management key, FIPS 201-3 4.2.2.2 "each card has its own administration key"), so that
  // nothing per item is stored. Two keys under one label make DeriveSecret fail: derivations
  // must never depend on which one a search finds first.
  [[nodiscard]] virtual Status EnsureDerivationKey(std::string_view label) = 0;
  // DeriveSecret returns HMAC-SHA256(K, |data|) computed inside the token with derivation key
  // |label| (CKM_SHA256_HMAC; RFC 2104 as a PRF, SP 800-108 counter mode with one block).
  virtual Result<SecureString> DeriveSecret(std::string_view label, ByteSpan data) = 0;

  // KeyUri names the private key |label| (RFC 7512 for PKCS#11, file: for soft tokens).
  virtual std::string KeyUri(std::string_view label) const = 0;
};

// OpenToken opens the token |config| describes; for PKCS#11 it loads the module, finds the
// token by label and logs in once.
Result<std::unique_ptr<CryptoToken>> OpenToken(const TokenConfig& config);

// InitToken initialises the PKCS#11 module's first free (uninitialised) token as a token
// labelled |config.label| with the security officer PIN |so_pin|, then sets its user PIN to
// |config.pin| (C_InitToken, then C_InitPIN in an SO session: PKCS#11 v2.40 5.5, 5.6). The
// PINs go from memory to the module, never through a command line. A token already labelled
// so is a conflict.
[[nodiscard]] Status InitToken(const TokenConfig& config, const SecureString& so_pin);

// SignData hashes |data| with the digest of |type| and signs it with |token|.
Result<Bytes> SignData(CryptoToken& token, std::string_view label, KeyType type, ByteSpan data);

}  // namespace certpress
