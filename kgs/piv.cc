#include "kgs/piv.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <cstring>

#include "kgs/tlv.h"
#include "signer/csr.h"
#include "signer/key_type.h"

namespace certpress::kgs {

namespace {

// The PIV application's AID, truncated to the PIX without version (Part 2 3.1.1: a card
// answers SELECT with the right-truncated AID).
constexpr uint8_t kPivAid[] = {0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00};

// The Yubico extension instructions.
constexpr uint8_t kInsGetMetadata = 0xF7;
constexpr uint8_t kInsGetSerial = 0xF8;
constexpr uint8_t kInsAttest = 0xF9;
constexpr uint8_t kInsSetRetries = 0xFA;
constexpr uint8_t kInsReset = 0xFB;
constexpr uint8_t kInsGetVersion = 0xFD;
constexpr uint8_t kInsImportKey = 0xFE;
constexpr uint8_t kInsSetMgmKey = 0xFF;

Command Cmd(uint8_t ins, uint8_t p1, uint8_t p2, Bytes data = {},
            std::optional<uint32_t> le = std::nullopt) {
  Command c;
  c.ins = ins;
  c.p1 = p1;
  c.p2 = p2;
  c.data = std::move(data);
  c.le = le;
  return c;
}

Bytes TagBytes(uint32_t tag) {
  Bytes b;
  if (tag > 0xFFFF) b.push_back(static_cast<uint8_t>(tag >> 16));
  if (tag > 0xFF) b.push_back(static_cast<uint8_t>(tag >> 8));
  b.push_back(static_cast<uint8_t>(tag));
  return b;
}

const EVP_CIPHER* CipherOf(PivAlg alg) {
  switch (alg) {
    case PivAlg::k3Des:
      return EVP_des_ede3_ecb();
    case PivAlg::kAes128:
      return EVP_aes_128_ecb();
    case PivAlg::kAes192:
      return EVP_aes_192_ecb();
    case PivAlg::kAes256:
      return EVP_aes_256_ecb();
    default:
      return nullptr;
  }
}

// Block runs one ECB block of the management key's cipher (the witness and the challenge are
// one block each: 8 bytes for 3DES, 16 for AES).
Result<Bytes> Block(PivAlg alg, ByteSpan key, ByteSpan in, bool encrypt) {
  const EVP_CIPHER* cipher = CipherOf(alg);
  if (cipher == nullptr) return InvalidInput("not a management key algorithm");
  if (key.size() != ManagementKeyLength(alg)) return InvalidInput("management key of wrong size");
  if (in.size() != static_cast<size_t>(EVP_CIPHER_get_block_size(cipher))) {
    return CardError("card's witness or challenge of " + std::to_string(in.size()) +
                     " bytes is not one cipher block");
  }
  UniquePtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  Bytes out(in.size() + 32);
  int n = 0, m = 0;
  if (!ctx || EVP_CipherInit_ex(ctx.get(), cipher, nullptr, key.data(), nullptr, encrypt) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), 0) != 1 ||
      EVP_CipherUpdate(ctx.get(), out.data(), &n, in.data(), static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), out.data() + n, &m) != 1) {
    return OsslError("management key cipher");
  }
  out.resize(n + m);
  return out;
}

Bytes PaddedPin(const SecureString& pin) {
  Bytes b(8, 0xFF);  // Part 2 3.2.1: PIN padded with FF to 8 bytes
  std::memcpy(b.data(), pin.str().data(), std::min<size_t>(8, pin.size()));
  return b;
}

Status CheckPin(const SecureString& pin, std::string_view what) {
  if (pin.size() < 6 || pin.size() > 8) return InvalidInput(std::string(what) + ": 6 to 8 bytes");
  return Status::Ok();
}

Result<Bytes> Gzip(ByteSpan in) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Internal("deflateInit2");
  }
  Bytes out(deflateBound(&z, in.size()) + 32);
  z.next_in = const_cast<uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Internal("gzip of a certificate failed");
  return out;
}

Result<Bytes> Gunzip(ByteSpan in, size_t max_out) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Internal("inflateInit2");
  Bytes out(max_out);
  z.next_in = const_cast<uint8_t*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  if (rc != Z_STREAM_END) {
    return InvalidInput("compressed certificate does not inflate within " +
                        std::to_string(max_out) + " bytes");
  }
  return out;
}

// The DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 9.2, note 1).
constexpr uint8_t kSha256Info[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                   0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
constexpr uint8_t kSha384Info[] = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                   0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};

Result<Bytes> Pkcs1Block(ByteSpan digest, size_t k) {
  ByteSpan prefix = digest.size() == 32   ? ByteSpan(kSha256Info)
                    : digest.size() == 48 ? ByteSpan(kSha384Info)
                                          : ByteSpan();
  if (prefix.empty()) return InvalidInput("digest of unexpected size");
  const size_t t = prefix.size() + digest.size();
  if (k < t + 11) return InvalidInput("RSA modulus too short");
  Bytes em(k, 0xFF);
  em[0] = 0x00;
  em[1] = 0x01;
  em[k - t - 1] = 0x00;
  std::memcpy(em.data() + k - t, prefix.data(), prefix.size());
  std::memcpy(em.data() + k - digest.size(), digest.data(), digest.size());
  return em;
}

Result<UniquePtr<X509>> ParseCert(ByteSpan der, std::string_view what) {
  const uint8_t* p = der.data();
  UniquePtr<X509> x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    return OsslError(std::string(what) + " is not a DER certificate", ErrorKind::kInvalidInput);
  }
  return x;
}

}  // namespace

Result<PivAlg> ManagementAlg(std::string_view name) {
  if (name == "3des") return PivAlg::k3Des;
  if (name == "aes-128") return PivAlg::kAes128;
  if (name == "aes-192") return PivAlg::kAes192;
  if (name == "aes-256") return PivAlg::kAes256;
  return InvalidInput("unknown management key algorithm '" + std::string(name) + "'");
}

size_t ManagementKeyLength(PivAlg alg) {
  switch (alg) {
    case PivAlg::kAes128:
      return 16;
    case PivAlg::kAes256:
      return 32;
    default:
      return 24;  // 3DES (three keys) and AES-192
  }
}

Result<PivAlg> PivAlgFor(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return PivAlg::kEcP256;
    case KeyType::kEcP384:
      return PivAlg::kEcP384;
    case KeyType::kRsa2048:
      return PivAlg::kRsa2048;
    default:
      return InvalidInput("PIV cards hold P-256, P-384 and RSA-2048 keys, not " +
                          std::string(KeyTypeName(type)));
  }
}

Status PivCard::Select() {
  Command c = Cmd(0xA4, 0x04, 0x00, Bytes(std::begin(kPivAid), std::end(kPivAid)), 256);
  auto r = ch_.Expect(c, "SELECT PIV");
  return r.ok() ? Status::Ok() : r.status();
}

Result<uint32_t> PivCard::Serial() {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(kInsGetSerial, 0, 0, {}, 256)));
  if (r.sw == 0x6D00) return NotFound("the card has no GET SERIAL");
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, "GET SERIAL"));
  if (r.data.size() != 4) {
    return CardError("GET SERIAL answered " + std::to_string(r.data.size()) + " bytes, not 4");
  }
  return uint32_t{r.data[0]} << 24 | uint32_t{r.data[1]} << 16 | uint32_t{r.data[2]} << 8 |
         r.data[3];
}

Result<std::string> PivCard::Version() {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(kInsGetVersion, 0, 0, {}, 256)));
  if (r.sw == 0x6D00) return NotFound("the card has no GET VERSION");
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, "GET VERSION"));
  if (r.data.size() != 3) return CardError("GET VERSION answered other than 3 bytes");
  return std::to_string(r.data[0]) + "." + std::to_string(r.data[1]) + "." +
         std::to_string(r.data[2]);
}

Result<std::optional<KeyMetadata>> PivCard::Metadata(uint8_t ref) {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(kInsGetMetadata, 0, ref, {}, 256)));
  if (r.sw == 0x6D00) return std::optional<KeyMetadata>();
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, "GET METADATA"));
  KeyMetadata m;
  auto all = ReadAll(r.data);
  if (!all.ok()) return all.status().Wrap("GET METADATA");
  for (const Tlv& t : *all) {
    if (t.tag == 0x01 && t.value.size() == 1) m.algorithm = t.value[0];
    if (t.tag == 0x05 && t.value.size() == 1) m.is_default = t.value[0] != 0;
    if (t.tag == 0x06 && t.value.size() == 2) m.retries = {t.value[0], t.value[1]};
  }
  return std::optional<KeyMetadata>(m);
}

Status PivCard::Authenticate(PivAlg alg, ByteSpan key) {
  const uint8_t a = static_cast<uint8_t>(alg);
  // Step 1: ask for a witness (7C { 80 00 }); the card answers 7C { 80 E(K, witness) }.
  Bytes ask = MakeTlv(0x7C, Bytes{0x80, 0x00});
  CP_ASSIGN_OR_RETURN(Bytes r1, ch_.Expect(Cmd(0x87, a, kManagementKeyRef, ask, 256),
                                           "GENERAL AUTHENTICATE (witness)"));
  CP_ASSIGN_OR_RETURN(ByteSpan dyn, Unwrap(r1, 0x7C, "witness"));
  CP_ASSIGN_OR_RETURN(ByteSpan enc_witness, ExpectTlv(dyn, 0x80, "witness"));
  CP_ASSIGN_OR_RETURN(Bytes witness, Block(alg, key, enc_witness, /*encrypt=*/false));
  // Step 2: the decrypted witness and our challenge; the card answers E(K, challenge).
  Bytes challenge(witness.size());
  if (RAND_bytes(challenge.data(), static_cast<int>(challenge.size())) != 1) {
    return OsslError("drawing a challenge");
  }
  Bytes inner;
  AppendTlv(inner, 0x80, witness);
  AppendTlv(inner, 0x81, challenge);
  Command c = Cmd(0x87, a, kManagementKeyRef, MakeTlv(0x7C, inner), 256);
  c.secret = true;
  Wipe(witness);
  auto r2 = ch_.Send(c);
  Wipe(inner);
  if (!r2.ok()) return r2.status();
  if (r2->sw == 0x6982 || r2->sw == 0x6A80) {
    return LoginRefused("management key refused (" + StatusWordText(r2->sw) + ")");
  }
  CP_RETURN_IF_ERROR(StatusWordError(r2->sw, "GENERAL AUTHENTICATE (response)"));
  CP_ASSIGN_OR_RETURN(ByteSpan dyn2, Unwrap(r2->data, 0x7C, "card's response"));
  CP_ASSIGN_OR_RETURN(ByteSpan answer, ExpectTlv(dyn2, 0x82, "card's response"));
  CP_ASSIGN_OR_RETURN(Bytes expected, Block(alg, key, challenge, /*encrypt=*/true));
  if (answer.size() != expected.size() ||
      CRYPTO_memcmp(answer.data(), expected.data(), expected.size()) != 0) {
    return CardError("the card did not prove it knows the management key");
  }
  return Status::Ok();
}

Status PivCard::SetManagementKey(PivAlg alg, ByteSpan key) {
  if (key.size() != ManagementKeyLength(alg)) return InvalidInput("management key of wrong size");
  Bytes data = {static_cast<uint8_t>(alg), kManagementKeyRef, static_cast<uint8_t>(key.size())};
  data.insert(data.end(), key.begin(), key.end());
  Command c = Cmd(kInsSetMgmKey, 0xFF, 0xFF, std::move(data));
  c.secret = true;
  auto r = ch_.Expect(c, "SET MANAGEMENT KEY");
  return r.ok() ? Status::Ok() : r.status();
}

Result<Bytes> SpkiFromGenerated(ByteSpan response, KeyType type) {
  CP_ASSIGN_OR_RETURN(ByteSpan tpl, Unwrap(response, 0x7F49, "generated public key"));
  UniquePtr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  UniquePtr<EVP_PKEY_CTX> ctx;
  UniquePtr<BIGNUM> n, e;
  if (IsEc(type)) {
    auto point = FindTlv(tpl, 0x86);
    if (!point.ok()) return point.status().Wrap("generated public key");
    if (!*point)
      return CardError("the card returned no EC point for a " + std::string(KeyTypeName(type)) +
                       " key");
    const size_t coord = type == KeyType::kEcP256 ? 32 : 48;
    if ((*point)->size() != 1 + 2 * coord || (**point)[0] != 0x04) {
      return CardError("the card's EC point is not an uncompressed " +
                       std::string(KeyTypeName(type)) + " point");
    }
    const char* group = type == KeyType::kEcP256 ? "P-256" : "P-384";
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, (*point)->data(),
                                     (*point)->size());
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  } else {
    auto mod = FindTlv(tpl, 0x81);
    auto exp = FindTlv(tpl, 0x82);
    if (!mod.ok()) return mod.status().Wrap("generated public key");
    if (!exp.ok()) return exp.status().Wrap("generated public key");
    if (!*mod || !*exp) return CardError("the card returned no RSA modulus or exponent");
    n.reset(BN_bin2bn((*mod)->data(), static_cast<int>((*mod)->size()), nullptr));
    e.reset(BN_bin2bn((*exp)->data(), static_cast<int>((*exp)->size()), nullptr));
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get());
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get());
    ctx.reset(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  }
  UniquePtr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return OsslError(
        "the card's public key is not a valid " + std::string(KeyTypeName(type)) + " key",
        ErrorKind::kCard);
  }
  UniquePtr<EVP_PKEY> key(raw);
  // On the curve, the right size and exponent, and exactly the profile's key type.
  auto checked = CheckKeyPolicy(key.get(), {std::string(KeyTypeName(type))});
  if (!checked.ok()) return CardError("the card's public key: " + checked.status().message());
  return SpkiDer(key.get());
}

Result<Bytes> PivCard::GenerateKey(uint8_t ref, KeyType type) {
  CP_ASSIGN_OR_RETURN(PivAlg alg, PivAlgFor(type));
  Bytes tmpl = MakeTlv(0xAC, Bytes{0x80, 0x01, static_cast<uint8_t>(alg)});
  CP_ASSIGN_OR_RETURN(Bytes r,
                      ch_.Expect(Cmd(0x47, 0x00, ref, tmpl, 256), "GENERATE ASYMMETRIC KEY PAIR"));
  return SpkiFromGenerated(r, type);
}

Status PivCard::ImportKey(uint8_t ref, EVP_PKEY* key) {
  CP_ASSIGN_OR_RETURN(KeyType type, KeyTypeOf(key));
  CP_ASSIGN_OR_RETURN(PivAlg alg, PivAlgFor(type));
  Bytes data;
  auto put = [&](uint8_t tag, const char* param, size_t len) -> Status {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, param, &raw) != 1) return OsslError("reading a private key");
    UniquePtr<BIGNUM> bn(raw);
    Bytes v(len);
    const int ok = BN_bn2binpad(bn.get(), v.data(), static_cast<int>(len));
    if (ok < 0) return Internal("private key component too large");
    AppendTlv(data, tag, v);
    Wipe(v);
    return Status::Ok();
  };
  Status st;
  if (IsEc(type)) {
    st = put(0x06, OSSL_PKEY_PARAM_PRIV_KEY, type == KeyType::kEcP256 ? 32 : 48);
  } else {
    // Yubico IMPORT: 01 P, 02 Q, 03 DP, 04 DQ, 05 QINV, each half the modulus long.
    const size_t half = static_cast<size_t>(RsaBits(type)) / 16;
    for (auto [tag, param] : {std::pair<uint8_t, const char*>{0x01, OSSL_PKEY_PARAM_RSA_FACTOR1},
                              {0x02, OSSL_PKEY_PARAM_RSA_FACTOR2},
                              {0x03, OSSL_PKEY_PARAM_RSA_EXPONENT1},
                              {0x04, OSSL_PKEY_PARAM_RSA_EXPONENT2},
                              {0x05, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}}) {
      st = put(tag, param, half);
      if (!st.ok()) break;
    }
  }
  if (!st.ok()) {
    Wipe(data);
    return st;
  }
  Command c = Cmd(kInsImportKey, static_cast<uint8_t>(alg), ref, std::move(data));
  c.secret = true;
  auto r = ch_.Expect(c, "IMPORT KEY");
  return r.ok() ? Status::Ok() : r.status();
}

Result<Bytes> PivCard::Attest(uint8_t ref) {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(kInsAttest, ref, 0x00, {}, 256)));
  if (r.sw == 0x6D00) return NotFound("the card has no ATTEST");
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, "ATTEST"));
  return std::move(r.data);
}

Result<Bytes> PivCard::GetData(uint32_t tag) {
  Bytes sel = MakeTlv(0x5C, TagBytes(tag));
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(0xCB, 0x3F, 0xFF, sel, 256)));
  if (r.sw == 0x6A82) return NotFound("data object not on the card");
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, "GET DATA"));
  CP_ASSIGN_OR_RETURN(ByteSpan v, Unwrap(r.data, 0x53, "GET DATA response"));
  return Bytes(v.begin(), v.end());
}

Status PivCard::PutData(uint32_t tag, ByteSpan contents) {
  Bytes data = MakeTlv(0x5C, TagBytes(tag));
  AppendTlv(data, 0x53, contents);
  auto r = ch_.Expect(Cmd(0xDB, 0x3F, 0xFF, std::move(data)), "PUT DATA");
  return r.ok() ? Status::Ok() : r.status();
}

Status PivCard::PutCertificate(uint32_t tag, ByteSpan der, bool compress) {
  Bytes contents;
  if (compress) {
    CP_ASSIGN_OR_RETURN(Bytes z, Gzip(der));
    AppendTlv(contents, 0x70, z);
    AppendTlv(contents, 0x71, Bytes{0x01});  // CertInfo: compressed (Part 1 Table 15 note)
  } else {
    AppendTlv(contents, 0x70, der);
    AppendTlv(contents, 0x71, Bytes{0x00});
  }
  AppendTlv(contents, 0xFE, {});  // error detection code, empty
  return PutData(tag, contents);
}

Result<Bytes> PivCard::ReadCertificate(uint32_t tag) {
  CP_ASSIGN_OR_RETURN(Bytes obj, GetData(tag));
  CP_ASSIGN_OR_RETURN(ByteSpan cert, ExpectTlv(obj, 0x70, "certificate object"));
  CP_ASSIGN_OR_RETURN(auto info, FindTlv(obj, 0x71));
  if (info && info->size() == 1 && ((*info)[0] & 0x01)) return Gunzip(cert, 16 * 1024);
  return Bytes(cert.begin(), cert.end());
}

Result<Bytes> PivCard::Sign(uint8_t ref, KeyType type, ByteSpan digest) {
  CP_ASSIGN_OR_RETURN(PivAlg alg, PivAlgFor(type));
  Bytes challenge;
  if (IsEc(type)) {
    challenge.assign(digest.begin(), digest.end());
  } else {
    CP_ASSIGN_OR_RETURN(challenge, Pkcs1Block(digest, static_cast<size_t>(RsaBits(type)) / 8));
  }
  Bytes inner = {0x82, 0x00};
  AppendTlv(inner, 0x81, challenge);
  CP_ASSIGN_OR_RETURN(
      Bytes r, ch_.Expect(Cmd(0x87, static_cast<uint8_t>(alg), ref, MakeTlv(0x7C, inner), 256),
                          "GENERAL AUTHENTICATE (sign)"));
  CP_ASSIGN_OR_RETURN(ByteSpan dyn, Unwrap(r, 0x7C, "signature"));
  CP_ASSIGN_OR_RETURN(ByteSpan sig, ExpectTlv(dyn, 0x82, "signature"));
  return Bytes(sig.begin(), sig.end());
}

Status PivCard::Verify(uint8_t ref, const SecureString& pin) {
  CP_RETURN_IF_ERROR(CheckPin(pin, "PIN"));
  Command c = Cmd(0x20, 0x00, ref, PaddedPin(pin));
  c.secret = true;
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(c));
  return StatusWordError(r.sw, ref == kPukRef ? "VERIFY PUK" : "VERIFY PIN");
}

Result<int> PivCard::RetriesLeft(uint8_t ref) {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(0x20, 0x00, ref)));
  if (r.sw == 0x9000) return -1;
  if ((r.sw & 0xFFF0) == 0x63C0) return r.sw & 0x0F;
  if (r.sw == 0x6983) return 0;
  return StatusWordError(r.sw, "VERIFY (retries)");
}

Status PivCard::ChangeReference(uint8_t ref, const SecureString& old_value,
                                const SecureString& new_value) {
  CP_RETURN_IF_ERROR(CheckPin(old_value, "old value"));
  CP_RETURN_IF_ERROR(CheckPin(new_value, "new value"));
  Bytes data = PaddedPin(old_value);
  Bytes second = PaddedPin(new_value);
  data.insert(data.end(), second.begin(), second.end());
  Wipe(second);
  Command c = Cmd(0x24, 0x00, ref, std::move(data));
  c.secret = true;
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(c));
  return StatusWordError(
      r.sw, ref == kPukRef ? "CHANGE REFERENCE DATA (PUK)" : "CHANGE REFERENCE DATA (PIN)");
}

Status PivCard::Unblock(const SecureString& puk, const SecureString& new_pin) {
  CP_RETURN_IF_ERROR(CheckPin(puk, "PUK"));
  CP_RETURN_IF_ERROR(CheckPin(new_pin, "new PIN"));
  Bytes data = PaddedPin(puk);
  Bytes second = PaddedPin(new_pin);
  data.insert(data.end(), second.begin(), second.end());
  Wipe(second);
  Command c = Cmd(0x2C, 0x00, kPinRef, std::move(data));
  c.secret = true;
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(c));
  return StatusWordError(r.sw, "RESET RETRY COUNTER");
}

Status PivCard::SetRetries(int pin_tries, int puk_tries) {
  if (pin_tries < 1 || pin_tries > 10 || puk_tries < 1 || puk_tries > 10) {
    return InvalidInput("retry counters must be 1 to 10");
  }
  auto r = ch_.Expect(
      Cmd(kInsSetRetries, static_cast<uint8_t>(pin_tries), static_cast<uint8_t>(puk_tries)),
      "SET PIN RETRIES");
  return r.ok() ? Status::Ok() : r.status();
}

Status PivCard::ForgetPin() {
  CP_ASSIGN_OR_RETURN(Response r, ch_.Send(Cmd(0x20, 0xFF, kPinRef)));
  return StatusWordError(r.sw, "VERIFY (reset the PIN's security status)");
}

Status PivCard::Reset() {
  auto r = ch_.Expect(Cmd(kInsReset, 0x00, 0x00), "RESET");
  return r.ok() ? Status::Ok() : r.status();
}

Bytes EncodeChuid(const std::array<uint8_t, 16>& guid, const std::string& expires) {
  // FASC-N (TIG SCEPACS): 40 characters of 5 bits (4 data bits least significant first, then
  // odd parity), start sentinel, agency 9999, system 9999, credential 999999, series 0,
  // issue 1, person identifier 0000000000, organizational category 1, organization 9999,
  // association 1, end sentinel and the LRC. 9999 marks a non-federal issuer (SP 800-73-4
  // Part 1 3.1.2: then the GUID identifies the card).
  const std::string chars =
      "S9999F9999F999999F0F1F00000000001"
      "9999"
      "1E";
  std::vector<uint8_t> values;
  for (char ch : chars) {
    values.push_back(ch == 'S' ? 0xB : ch == 'F' ? 0xD : ch == 'E' ? 0xF : ch - '0');
  }
  uint8_t lrc = 0;
  for (uint8_t v : values) lrc ^= v;
  values.push_back(lrc);
  Bytes fascn(25, 0);
  size_t bit = 0;
  for (uint8_t v : values) {
    int ones = 0;
    for (int i = 0; i < 5; ++i) {
      int b = i < 4 ? (v >> i) & 1 : (ones % 2 == 0);  // odd parity over the five bits
      ones += i < 4 ? b : 0;
      if (b) fascn[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
      ++bit;
    }
  }
  Bytes out;
  AppendTlv(out, 0x30, fascn);
  AppendTlv(out, 0x34, guid);
  AppendTlv(out, 0x35, AsBytes(expires));
  AppendTlv(out, 0x3E, {});  // issuer asymmetric signature: none (not a federal PIV card)
  AppendTlv(out, 0xFE, {});  // error detection code
  return out;
}

Result<std::array<uint8_t, 16>> ChuidGuid(ByteSpan chuid) {
  CP_ASSIGN_OR_RETURN(ByteSpan g, ExpectTlv(chuid, 0x34, "CHUID"));
  if (g.size() != 16) return InvalidInput("CHUID GUID is not 16 bytes");
  std::array<uint8_t, 16> out;
  std::copy(g.begin(), g.end(), out.begin());
  return out;
}

Result<Bytes> EncodeCcc() {
  // Card identifier (F0): GSC-RID A0 00 00 01 16, manufacturer FF (unassigned), card type 02
  // (Java Card), 14 random bytes of card ID (Part 1 Table 8).
  Bytes id = {0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02};
  id.resize(id.size() + 14);
  if (RAND_bytes(id.data() + 7, 14) != 1) return OsslError("drawing a card identifier");
  Bytes out;
  AppendTlv(out, 0xF0, id);
  AppendTlv(out, 0xF1, Bytes{0x21});  // capability container version
  AppendTlv(out, 0xF2, Bytes{0x21});  // capability grammar version
  AppendTlv(out, 0xF3, {});           // applications CardURL
  AppendTlv(out, 0xF4, Bytes{0x00});  // PKCS#15: no
  AppendTlv(out, 0xF5, Bytes{0x10});  // registered data model number
  for (uint32_t tag : {0xF6u, 0xF7u, 0xFAu, 0xFBu, 0xFCu, 0xFDu, 0xFEu}) AppendTlv(out, tag, {});
  return out;
}

Status VerifyAttestation(ByteSpan attestation, ByteSpan intermediate, std::string_view root_pem,
                         ByteSpan spki) {
  CP_ASSIGN_OR_RETURN(UniquePtr<X509> att, ParseCert(attestation, "the attestation"));
  CP_ASSIGN_OR_RETURN(UniquePtr<X509> inter,
                      ParseCert(intermediate, "the card's attestation certificate (F9)"));
  // The attestation names the key that was generated on the card.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(X509_get0_pubkey(att.get()), &der);
  UniquePtr<unsigned char> owned(der);
  if (len <= 0 || static_cast<size_t>(len) != spki.size() ||
      std::memcmp(der, spki.data(), spki.size()) != 0) {
    return CardError("the attestation is for another key than the one the card returned");
  }
  if (X509_verify(att.get(), X509_get0_pubkey(inter.get())) != 1) {
    OpenSslErrors();
    return CardError("the attestation is not signed by the card's attestation key");
  }
  if (root_pem.empty()) return Status::Ok();  // no trusted root given: the chain is not checked
  UniquePtr<BIO> bio(BIO_new_mem_buf(root_pem.data(), static_cast<int>(root_pem.size())));
  UniquePtr<X509_STORE> store(X509_STORE_new());
  int roots = 0;
  while (true) {
    UniquePtr<X509> root(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!root) break;
    X509_STORE_add_cert(store.get(), root.get());
    ++roots;
  }
  OpenSslErrors();
  if (roots == 0) return InvalidInput("the attestation root file holds no certificate");
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), inter.get(), nullptr) != 1) {
    return OsslError("attestation chain");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    OpenSslErrors();
    return CardError("the card's attestation certificate does not chain to the trusted root: " +
                     std::string(X509_verify_cert_error_string(err)));
  }
  return Status::Ok();
}

Status VerifyCardSignature(ByteSpan cert_der, KeyType type, ByteSpan digest, ByteSpan signature) {
  CP_ASSIGN_OR_RETURN(UniquePtr<X509> cert, ParseCert(cert_der, "the certificate"));
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  UniquePtr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(pub, nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), SignatureDigest(type)) != 1 ||
      (!IsEc(type) && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1)) {
    return OsslError("setting up a signature check");
  }
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(),
                      digest.size()) != 1) {
    OpenSslErrors();
    return CardError("the card's signature does not verify with the certificate's key");
  }
  return Status::Ok();
}

Result<SecureString> RandomDigits(int n) {
  std::string out;
  out.reserve(n);
  while (static_cast<int>(out.size()) < n) {
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1) return OsslError("drawing random digits");
    for (uint8_t v : b) {
      // 250 = 25 * 10: values from 250 up would favour 0-5; drop them.
      if (v < 250 && static_cast<int>(out.size()) < n)
        out.push_back(static_cast<char>('0' + v % 10));
    }
    OPENSSL_cleanse(b, sizeof b);
  }
  return SecureString(std::move(out));
}

Status CheckPinCounter(PivCard& piv, const SecureString& pin, int pin_length, int full_tries) {
  SecureString wrong;
  do {
    CP_ASSIGN_OR_RETURN(wrong, RandomDigits(pin_length));
  } while (wrong.view() == pin.view());
  Status refused = piv.Verify(kPinRef, wrong);
  if (refused.ok()) return CardError("the card accepted a wrong PIN");
  if (refused.kind() != ErrorKind::kLoginRefused) return refused.Wrap("a wrong PIN");
  CP_ASSIGN_OR_RETURN(int left, piv.RetriesLeft(kPinRef));
  if (left < 0 || (full_tries > 0 && left != full_tries - 1)) {
    return CardError("a wrong PIN left " + std::to_string(left) + " tries" +
                     (full_tries > 0 ? " (expected " + std::to_string(full_tries - 1) + ")" : ""));
  }
  CP_RETURN_IF_ERROR(piv.Verify(kPinRef, pin).Wrap("the right PIN after a wrong one"));
  CP_ASSIGN_OR_RETURN(auto meta, piv.Metadata(kPinRef));
  if (full_tries > 0 && meta && meta->retries && meta->retries->second != full_tries) {
    return CardError("the right PIN did not restore the retry counter");
  }
  return Status::Ok();
}

}  // namespace certpress::kgs
