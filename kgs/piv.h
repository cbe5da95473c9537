// piv.h: the PIV card application's commands (NIST SP 800-73-4 Part 2, section 3: SELECT, GET
// DATA, PUT DATA, GENERAL AUTHENTICATE, GENERATE ASYMMETRIC KEY PAIR, VERIFY, CHANGE REFERENCE
// DATA, RESET RETRY COUNTER) and the Yubico extensions personalization needs (GET VERSION FD,
// GET SERIAL F8, GET METADATA F7, ATTEST F9, SET PIN RETRIES FA, SET MANAGEMENT KEY FF, IMPORT
// KEY FE; Yubico's "PIV commands" reference). Each call is one command over an ApduChannel;
// what is done with them, in which order, is kgs/personalize.h. PINs and keys pass as
// SecureString or spans and are never put into messages.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "cardprofiles/key_types.h"
#include "common/bytes.h"
#include "common/ossl.h"
#include "common/status.h"
#include "kgs/apdu.h"

namespace certpress::kgs {

// Algorithm identifiers of SP 800-78-4 Table 6-2 (and Yubico's AES ones for 9B).
enum class PivAlg : uint8_t {
  k3Des = 0x03,
  kRsa2048 = 0x07,
  kAes128 = 0x08,
  kAes192 = 0x0A,
  kAes256 = 0x0C,
  kEcP256 = 0x11,
  kEcP384 = 0x14,
};

// ManagementAlg reads "aes-128", "aes-192", "aes-256" or "3des" (cardprofiles' spelling).
Result<PivAlg> ManagementAlg(std::string_view name);
// ManagementKeyLength is the key length of a management-key algorithm (16, 24, 32; 24 for 3DES).
size_t ManagementKeyLength(PivAlg alg);
// PivAlgFor is the card's algorithm for a key type (P-256, P-384, RSA-2048); others are refused.
Result<PivAlg> PivAlgFor(KeyType type);

// Key references (SP 800-73-4 Part 1 Table 4b).
inline constexpr uint8_t kPinRef = 0x80;
inline constexpr uint8_t kPukRef = 0x81;
inline constexpr uint8_t kManagementKeyRef = 0x9B;
// Yubico's attestation key slot and the data object holding its certificate.
inline constexpr uint8_t kAttestationSlot = 0xF9;
inline constexpr uint32_t kAttestationCertTag = 0x5FFF01;
inline constexpr uint32_t kChuidTag = 0x5FC102;
inline constexpr uint32_t kCccTag = 0x5FC107;

// What GET METADATA says of a key (Yubico F7: 01 algorithm, 05 default value, 06 retries).
struct KeyMetadata {
  std::optional<uint8_t> algorithm;
  std::optional<bool> is_default;              // the factory value
  std::optional<std::pair<int, int>> retries;  // total, remaining (PIN and PUK)
};

class PivCard {
 public:
  explicit PivCard(ApduChannel& channel) : ch_(channel) {}

  // Select selects the PIV application (AID A0 00 00 03 08, Part 2 3.1.1).
  [[nodiscard]] Status Select();
  // Serial returns the card's serial number (Yubico GET SERIAL); NotFound where the card has
  // no such command.
  Result<uint32_t> Serial();
  // Version returns the firmware version (Yubico GET VERSION), "5.4.3"; NotFound if unknown.
  Result<std::string> Version();
  // Metadata returns what GET METADATA says of key |ref| (nothing where the card has no GET
  // METADATA: 6D00 instruction not supported).
  Result<std::optional<KeyMetadata>> Metadata(uint8_t ref);

  // Authenticate runs the management key's mutual authentication (GENERAL AUTHENTICATE
  // witness-challenge, Part 2 Appendix A.1 / SP 800-73-4 Part 2 3.2.4): the card proves it
  // knows the key by answering our challenge, and we prove it by decrypting its witness.
  [[nodiscard]] Status Authenticate(PivAlg alg, ByteSpan key);
  // SetManagementKey replaces the management key (Yubico SET MANAGEMENT KEY); needs an
  // authenticated management key.
  [[nodiscard]] Status SetManagementKey(PivAlg alg, ByteSpan key);

  // GenerateKey makes a key pair in slot |ref| (GENERATE ASYMMETRIC KEY PAIR, Part 2 3.3.2)
  // and returns its public key as a DER SubjectPublicKeyInfo: an EC point that is not on the
  // curve or an RSA key of another size is refused here.
  Result<Bytes> GenerateKey(uint8_t ref, KeyType type);
  // ImportKey puts a server-made private key into slot |ref| (Yubico IMPORT ASYMMETRIC KEY).
  [[nodiscard]] Status ImportKey(uint8_t ref, EVP_PKEY* key);
  // Attest returns the attestation certificate of the key in |ref| (Yubico ATTEST), DER.
  Result<Bytes> Attest(uint8_t ref);

  // GetData returns the contents of data object |tag| (the value of its 53 wrapper); NotFound
  // when the card has none.
  Result<Bytes> GetData(uint32_t tag);
  // PutData writes |contents| (the TLVs that go inside 53) to data object |tag|.
  [[nodiscard]] Status PutData(uint32_t tag, ByteSpan contents);
  // PutCertificate writes an X.509 certificate to the data object of |tag| (70 certificate,
  // 71 CertInfo, FE LRC; Part 1 Table 15). Compressed (CertInfo 01, gzip) where |compress|.
  [[nodiscard]] Status PutCertificate(uint32_t tag, ByteSpan der, bool compress);
  // ReadCertificate reads it back (decompressing a gzip CertInfo 01 certificate).
  Result<Bytes> ReadCertificate(uint32_t tag);

  // Sign has the key in |ref| sign |digest| (GENERAL AUTHENTICATE with a challenge, Part 2
  // 3.2.4 / Appendix A.4): ECDSA over the digest for EC keys (a DER ECDSA-Sig-Value), raw RSA
  // over the EMSA-PKCS1-v1_5 encoding of the digest for RSA keys.
  Result<Bytes> Sign(uint8_t ref, KeyType type, ByteSpan digest);

  // Verify presents |pin| (VERIFY, Part 2 3.2.1, padded with FF to 8 bytes).
  [[nodiscard]] Status Verify(uint8_t ref, const SecureString& pin);
  // RetriesLeft asks how many tries |ref| has left (VERIFY without data: 63Cx; 9000 if it is
  // verified already, reported as -1).
  Result<int> RetriesLeft(uint8_t ref);
  // ChangeReference replaces the PIN or PUK (CHANGE REFERENCE DATA, 3.2.2).
  [[nodiscard]] Status ChangeReference(uint8_t ref, const SecureString& old_value,
                                       const SecureString& new_value);
  // Unblock sets a new PIN with the PUK (RESET RETRY COUNTER, 3.2.3).
  [[nodiscard]] Status Unblock(const SecureString& puk, const SecureString& new_pin);
  // SetRetries sets the PIN and PUK retry counters (Yubico SET PIN RETRIES; the card then has
  // its default PIN and PUK again). Needs the management key and the PIN.
  [[nodiscard]] Status SetRetries(int pin_tries, int puk_tries);
  // ForgetPin resets the PIN's security status (VERIFY with P1 FF and no data, SP 800-73-4
  // Part 2 3.2.1), so that VERIFY without data reports the tries left again.
  [[nodiscard]] Status ForgetPin();
  // Reset puts the PIV application back to its factory state (Yubico RESET, INS FB: PIN 123456,
  // PUK 12345678, the factory management key, no keys or objects). The card takes it only once
  // PIN and PUK are both blocked.
  [[nodiscard]] Status Reset();

  ApduChannel& channel() { return ch_; }

 private:
  ApduChannel& ch_;
};

// SpkiFromGenerated turns the response of GENERATE ASYMMETRIC KEY PAIR (7F49 with 86 point, or
// 81 modulus and 82 exponent) into a SubjectPublicKeyInfo, refusing a point off the curve, a
// key of another type than |type|, or one the key policy (signer/csr.h) refuses.
Result<Bytes> SpkiFromGenerated(ByteSpan response, KeyType type);

// EncodeChuid builds a Card Holder Unique Identifier (Part 1 3.1.2, Table 9): FASC-N (agency
// code 9999: a non-federal issuer, so the GUID is the identifier), GUID, expiration date
// (YYYYMMDD), an empty issuer signature and the LRC.
Bytes EncodeChuid(const std::array<uint8_t, 16>& guid, const std::string& expires_yyyymmdd);
// EncodeCcc builds a Card Capability Container (Part 1 3.1.1, Table 8) with a random card
// identifier.
Result<Bytes> EncodeCcc();
// ChuidGuid reads the GUID back from a CHUID.
Result<std::array<uint8_t, 16>> ChuidGuid(ByteSpan chuid);

// VerifyAttestation checks a Yubico attestation: |attestation| (the key's certificate from
// ATTEST) is signed by |intermediate| (the F9 certificate), which chains to |root_pem| (the
// profile's trusted attestation root; with none, the chain is not checked); and the attested
// key is |spki|.
[[nodiscard]] Status VerifyAttestation(ByteSpan attestation, ByteSpan intermediate,
                                       std::string_view root_pem, ByteSpan spki);

// VerifyCardSignature checks |signature| over |digest| by the key in |cert_der|.
[[nodiscard]] Status VerifyCardSignature(ByteSpan cert_der, KeyType type, ByteSpan digest,
                                         ByteSpan signature);

// RandomDigits draws |n| decimal digits uniformly (rejection sampling over RAND_bytes): PINs
// and PUKs (FIPS 201-3 4.3.1: numeric).
Result<SecureString> RandomDigits(int n);

// CheckPinCounter checks that the card refuses a wrong PIN (a random one of |pin_length|
// digits), that the refusal lowered the retry counter (to |full_tries| - 1 when that is known,
// i.e. > 0), and that |pin| then verifies, which restores the counter (checked where GET
// METADATA reports it). A card that accepts any PIN fails here.
[[nodiscard]] Status CheckPinCounter(PivCard& piv, const SecureString& pin, int pin_length,
                                     int full_tries);

}  // namespace certpress::kgs
