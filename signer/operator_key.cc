#include "signer/operator_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstring>

#include "signer/p11_uri.h"
#include "signer/token.h"

namespace certpress {

namespace {

const EVP_MD* DigestFor(const EVP_PKEY* key) {
  auto type = KeyTypeOf(key);
  return type.ok() ? SignatureDigest(*type) : EVP_sha256();
}

class FileKey final : public StatementKey {
 public:
  FileKey(UniquePtr<EVP_PKEY> key, Bytes spki) : key_(std::move(key)), spki_(std::move(spki)) {}

  Result<Bytes> Sign(ByteSpan data) override {
    UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
    size_t len = 0;
    if (!ctx ||
        EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(key_.get()), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
      return OsslError("signing with the operator key");
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
      return OsslError("signing with the operator key");
    }
    sig.resize(len);
    return sig;
  }
  const Bytes& Spki() const override { return spki_; }

 private:
  UniquePtr<EVP_PKEY> key_;
  Bytes spki_;
};

class TokenKey final : public StatementKey {
 public:
  TokenKey(std::unique_ptr<CryptoToken> token, std::string label, KeyType type, Bytes spki)
      : token_(std::move(token)), label_(std::move(label)), type_(type), spki_(std::move(spki)) {}

  Result<Bytes> Sign(ByteSpan data) override { return SignData(*token_, label_, type_, data); }
  const Bytes& Spki() const override { return spki_; }

 private:
  std::unique_ptr<CryptoToken> token_;
  std::string label_;
  KeyType type_;
  Bytes spki_;
};

// PemPasswordCallback hands OpenSSL the password without a copy it would not wipe.
int PemPassword(char* buf, int size, int, void* u) {
  const auto* pw = static_cast<const SecureString*>(u);
  const int n = static_cast<int>(pw->size());
  if (n > size) return -1;
  std::memcpy(buf, pw->str().data(), static_cast<size_t>(n));
  return n;
}

}  // namespace

Result<std::unique_ptr<StatementKey>> OpenStatementKey(const std::string& spec,
                                                       const SecureString& password,
                                                       const std::string& pkcs11_module) {
  if (spec.rfind("pkcs11:", 0) == 0) {
    CP_ASSIGN_OR_RETURN(Pkcs11Uri uri, ParsePkcs11Uri(spec));
    if (uri.token.empty() || uri.object.empty()) {
      return InvalidInput("operator key URI '" + spec + "' needs token= and object=");
    }
    TokenConfig c;
    c.kind = "pkcs11";
    c.module = uri.module_path.empty() ? pkcs11_module : uri.module_path;
    c.label = uri.token;
    c.pin = password.Clone();
    c.session_copies = false;
    CP_ASSIGN_OR_RETURN(auto token, OpenToken(c));
    CP_ASSIGN_OR_RETURN(Bytes spki, token->PublicKey(uri.object));
    CP_ASSIGN_OR_RETURN(auto pub, ParseSpki(spki));
    CP_ASSIGN_OR_RETURN(KeyType type, KeyTypeOf(pub.get()));
    return std::unique_ptr<StatementKey>(
        new TokenKey(std::move(token), uri.object, type, std::move(spki)));
  }
  CP_ASSIGN_OR_RETURN(std::string pem, ReadFile(spec));
  UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  UniquePtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, PemPassword,
                                                  const_cast<SecureString*>(&password)));
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key) {
    ERR_clear_error();
    return InvalidInput(spec + ": not a private key this password opens");
  }
  CP_ASSIGN_OR_RETURN(Bytes spki, SpkiDer(key.get()));
  return std::unique_ptr<StatementKey>(new FileKey(std::move(key), std::move(spki)));
}

Result<SecureString> EncryptedKeyPem(EVP_PKEY* key, const SecureString& password) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_secmem()));
  if (!bio ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), nullptr, 0, PemPassword,
                                    const_cast<SecureString*>(&password)) != 1) {
    return OsslError("encrypting the operator key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return SecureString(std::string(data, static_cast<size_t>(n)));
}

namespace {

Status VerifyWith(EVP_PKEY* pub, ByteSpan data, ByteSpan signature, const char* whose) {
  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(pub), nullptr, pub) != 1) {
    return OsslError("setting up the signature check");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(), data.size()) !=
      1) {
    ERR_clear_error();
    return InvalidInput(std::string("the signature does not verify with ") + whose);
  }
  return Status::Ok();
}

}  // namespace

Status VerifyStatementSignature(ByteSpan cert_der, ByteSpan data, ByteSpan signature) {
  const unsigned char* p = cert_der.data();
  UniquePtr<X509> cert(d2i_X509(nullptr, &p, static_cast<long>(cert_der.size())));
  if (!cert) return OsslError("parsing the operator certificate");
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (pub == nullptr) return OsslError("reading the operator certificate's key");
  return VerifyWith(pub, data, signature, "the operator's registered certificate");
}

Status VerifySpkiSignature(ByteSpan spki, ByteSpan data, ByteSpan signature) {
  CP_ASSIGN_OR_RETURN(auto pub, ParseSpki(spki));
  return VerifyWith(pub.get(), data, signature, "the signing key");
}

}  // namespace certpress
