// pkcs11_token.cc: the PKCS#11 CryptoToken: key generation with our own templates, public
// keys, signing (with session copies of CA keys) and the secret keys of envelope encryption.
// The module and its slots are in pkcs11_module.h, sessions and login in pkcs11_session.h, the
// DER of keys and signatures in der_keys.h. See docs/ARCHITECTURE.md, "Signer".
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "common/ossl.h"
#include "signer/der_keys.h"
#include "signer/p11_uri.h"
#include "signer/pkcs11_internal.h"
#include "signer/pkcs11_module.h"
#include "signer/pkcs11_session.h"
#include "signer/token.h"

namespace certpress {

namespace {

struct KeyHandles {
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
};

class Pkcs11Token final : public CryptoToken {
 public:
  // The PIN moves from |config| into the pool, which alone logs in.
  Pkcs11Token(std::shared_ptr<pkcs11::Module> module, CK_SLOT_ID slot, TokenConfig config)
      : module_(std::move(module)),
        fl_(module_->fl()),
        config_(std::move(config)),
        pool_(fl_, slot, config_.label, std::move(config_.pin)) {}

  // Login logs the application in once (OpenPkcs11Token calls it).
  [[nodiscard]] Status Login() { return pool_.Login(); }

  Result<Bytes> GenerateKey(std::string_view label, KeyType type) override {
    Bytes spki;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV { return GenerateOn(s, label, type, &spki, &inner); },
        "generating key in token '" + config_.label + "': key", label);
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return spki;
  }

  Result<Bytes> PublicKey(std::string_view label) override {
    Bytes spki;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          KeyHandles h;
          CK_RV rv = FindKeys(s, label, &h);
          if (rv != CKR_OK) return rv;
          if (h.pub == CK_INVALID_HANDLE) {
            inner = NotFound("no public key labelled '" + std::string(label) + "' in token '" +
                             config_.label + "'");
            return CKR_OK;
          }
          return ReadSpki(s, h.pub, &spki, &inner);
        },
        "reading public key", label);
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return spki;
  }

  Result<Bytes> SignDigest(std::string_view label, KeyType type, ByteSpan digest) override {
    Bytes sig;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          CK_OBJECT_HANDLE key;
          CK_RV rv = CachedPrivateKey(s, label, &key);
          if (rv != CKR_OK) return rv;
          if (key == CK_INVALID_HANDLE) {
            inner = NotFound("no private key labelled '" + std::string(label) + "' in token '" +
                             config_.label + "'");
            return CKR_OK;
          }
          // Invalid handles are WithSession's to handle (it forgets the cache and logs in).
          return SignOn(s, key, type, digest, &sig, &inner);
        },
        "signing with", label);
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return sig;
  }

  // The KEK never leaves the token and does nothing but encrypt and decrypt data keys.
  Status EnsureSecretKey(std::string_view label) override {
    return EnsureSecret(label, CKK_AES, CKM_AES_KEY_GEN, {CKA_ENCRYPT, CKA_DECRYPT},
                        "creating secret key");
  }

  // A master key that never leaves the token and does nothing but HMAC.
  Status EnsureDerivationKey(std::string_view label) override {
    return EnsureSecret(label, CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN, {CKA_SIGN},
                        "creating derivation key");
  }

  Result<SecureString> DeriveSecret(std::string_view label, ByteSpan data) override {
    std::string out(32, '\0');
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          std::vector<CK_OBJECT_HANDLE> keys;
          CK_RV rv = FindSecrets(s, label, &keys, &inner);
          if (rv != CKR_OK || !inner.ok()) return rv;
          if (keys.size() != 1) {
            inner = Conflict(std::to_string(keys.size()) + " secret keys labelled '" +
                             std::string(label) + "' in token '" + config_.label +
                             "': derivations need exactly one");
            return CKR_OK;
          }
          CK_MECHANISM mech = {CKM_SHA256_HMAC, nullptr, 0};
          if ((rv = fl_->C_SignInit(s, &mech, keys.front())) != CKR_OK) return rv;
          CK_ULONG len = out.size();
          rv = fl_->C_Sign(s, const_cast<uint8_t*>(data.data()), data.size(),
                           reinterpret_cast<uint8_t*>(out.data()), &len);
          out.resize(len);
          return rv;
        },
        "deriving with", label);
    SecureString secret(std::move(out));
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return secret;
  }

  Result<Bytes> SecretEncrypt(std::string_view label, ByteSpan plaintext, ByteSpan aad) override {
    Bytes out;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          std::vector<CK_OBJECT_HANDLE> keys;
          CK_RV rv = FindSecrets(s, label, &keys, &inner);
          if (rv != CKR_OK || !inner.ok()) return rv;
          const CK_OBJECT_HANDLE key = keys.front();
          out.assign(12 + plaintext.size() + 16, 0);
          if (RAND_bytes(out.data(), 12) != 1) {
            inner = OsslError("drawing an IV");
            return CKR_OK;
          }
          CK_GCM_PARAMS gcm = {out.data(), 12, 96, const_cast<uint8_t*>(aad.data()),
                               aad.size(), 128};
          CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
          if ((rv = fl_->C_EncryptInit(s, &mech, key)) != CKR_OK) return rv;
          CK_ULONG len = out.size() - 12;
          rv = fl_->C_Encrypt(s, const_cast<uint8_t*>(plaintext.data()), plaintext.size(),
                              out.data() + 12, &len);
          out.resize(12 + len);
          return rv;
        },
        "encrypting with", label);
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return out;
  }

  Result<SecureString> SecretDecrypt(std::string_view label, ByteSpan blob, ByteSpan aad) override {
    if (blob.size() < 12 + 16) return InvalidInput("encrypted blob is too short");
    std::string plain;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          std::vector<CK_OBJECT_HANDLE> keys;
          CK_RV rv = FindSecrets(s, label, &keys, &inner);
          if (rv != CKR_OK || !inner.ok()) return rv;
          // Two processes that found no key at the same moment may each have made one under
          // the same label. GCM's tag tells which one sealed the blob, so each is tried.
          for (CK_OBJECT_HANDLE key : keys) {
            CK_GCM_PARAMS gcm = {const_cast<uint8_t*>(blob.data()), 12,         96,
                                 const_cast<uint8_t*>(aad.data()),  aad.size(), 128};
            CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
            if ((rv = fl_->C_DecryptInit(s, &mech, key)) != CKR_OK) return rv;
            plain.assign(blob.size(), '\0');
            CK_ULONG len = plain.size();
            rv = fl_->C_Decrypt(s, const_cast<uint8_t*>(blob.data() + 12), blob.size() - 12,
                                reinterpret_cast<uint8_t*>(plain.data()), &len);
            if (rv == CKR_OK) {
              plain.resize(len);
              return rv;
            }
            // A failed tag is CKR_ENCRYPTED_DATA_INVALID in the standard and
            // CKR_GENERAL_ERROR in SoftHSM2: either way, the next key. A lost session shows
            // at the next C_DecryptInit and is returned from there.
          }
          return rv;
        },
        "decrypting with", label);
    SecureString out(std::move(plain));
    if (!st.ok()) return st;
    if (!inner.ok()) return inner;
    return out;
  }

  std::string KeyUri(std::string_view label) const override {
    return FormatPkcs11Uri({config_.label, std::string(label), "private", "", "", ""});
  }

 private:
  // WithSession runs |op| on a pooled session. CKR_USER_NOT_LOGGED_IN logs in again and
  // retries; a lost session (handle invalid, device error) is closed and the operation
  // retried once on a fresh session.
  // |action| and |label| name the operation in errors; the message is only built on failure,
  // since this runs once per certificate.
  template <class Op>
  Status WithSession(Op op, std::string_view action, std::string_view label) {
    auto what = [&] { return std::string(action) + " '" + std::string(label) + "'"; };
    for (int attempt = 0; attempt < 3; ++attempt) {
      // A session that is not given back to the pool is closed at the end of the iteration.
      auto s = pool_.Acquire();
      if (!s.ok()) return s.status().Wrap(what());
      CK_RV rv = op(s->handle());
      if (rv == CKR_OK) {
        pool_.Release(std::move(*s));
        return Status::Ok();
      }
      // A lost login (another part of the application closed every session, or logged out)
      // shows up as CKR_USER_NOT_LOGGED_IN, or as invalid handles for the private objects we
      // cached: log in again, forget the handles, retry.
      if (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID ||
          rv == CKR_OBJECT_HANDLE_INVALID) {
        ForgetKeys();
        Status st = pool_.LoginOn(*s);
        if (!st.ok()) return st.Wrap(what());
        pool_.Release(std::move(*s));
        continue;
      }
      if (pkcs11::IsSessionLost(rv)) continue;
      pool_.Release(std::move(*s));
      return pkcs11::CkError(what(), rv);
    }
    return HsmError(what() + ": the token kept failing after re-login and a new session");
  }

  // ForgetKeys drops the cached key handles. Session copies among them are not destroyed:
  // another thread may still be signing with one, and destroying it would fail that thread,
  // which would then forget the copies made since. The usual causes (a lost login, the holder
  // session closed) have destroyed them already; any other copy stays until the holder
  // session closes with the token.
  void ForgetKeys() {
    std::unique_lock lock(cache_mu_);
    cache_.clear();
  }

  // FindObjects finds token objects only: our session copies carry the same labels.
  CK_RV FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, std::string_view label,
                    std::vector<CK_OBJECT_HANDLE>* out) {
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
        {CKA_TOKEN, &on_token, sizeof on_token},
    };
    CK_RV rv = fl_->C_FindObjectsInit(s, tmpl, 3);
    if (rv != CKR_OK) return rv;
    CK_OBJECT_HANDLE found[4];
    CK_ULONG n = 0;
    rv = fl_->C_FindObjects(s, found, 4, &n);
    fl_->C_FindObjectsFinal(s);
    if (rv != CKR_OK) return rv;
    out->assign(found, found + n);
    return CKR_OK;
  }

  CK_RV FindKeys(CK_SESSION_HANDLE s, std::string_view label, KeyHandles* h) {
    std::vector<CK_OBJECT_HANDLE> v;
    CK_RV rv = FindObjects(s, CKO_PRIVATE_KEY, label, &v);
    if (rv != CKR_OK) return rv;
    if (!v.empty()) h->priv = v[0];
    rv = FindObjects(s, CKO_PUBLIC_KEY, label, &v);
    if (rv != CKR_OK) return rv;
    if (!v.empty()) h->pub = v[0];
    return CKR_OK;
  }

  CK_RV CachedPrivateKey(CK_SESSION_HANDLE s, std::string_view label, CK_OBJECT_HANDLE* out) {
    {
      std::shared_lock lock(cache_mu_);
      auto it = cache_.find(label);
      if (it != cache_.end()) {
        *out = it->second;
        return CKR_OK;
      }
    }
    std::vector<CK_OBJECT_HANDLE> v;
    CK_RV rv = FindObjects(s, CKO_PRIVATE_KEY, label, &v);
    if (rv != CKR_OK) return rv;
    if (v.empty()) {
      // Private objects are invisible to a session that is not logged in (PKCS#11 v2.40
      // 4.1.2): tell that apart from a key that does not exist.
      CK_SESSION_INFO info;
      if (fl_->C_GetSessionInfo(s, &info) == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS &&
          info.state != CKS_RO_USER_FUNCTIONS) {
        return CKR_USER_NOT_LOGGED_IN;
      }
    }
    if (v.empty()) {
      *out = CK_INVALID_HANDLE;
      return CKR_OK;
    }
    std::unique_lock lock(cache_mu_);
    auto [it, fresh] = cache_.try_emplace(std::string(label), CK_INVALID_HANDLE);
    if (fresh) it->second = SessionCopy(v[0]);  // another thread may have been first
    *out = it->second;
    return CKR_OK;
  }

  // SessionCopy returns a copy of the private key |key| as a session object, or |key| itself
  // when copies are off or the token will not copy (CKA_COPYABLE false, a policy, no
  // C_CopyObject). Why: SoftHSM2 re-reads a token object's file on every C_SignInit (open,
  // fstat, read, close and three fcntl locks, counted with strace); a session object is held
  // in memory, which saves about 35% of the CPU of each signature. The copy stays inside the
  // token and keeps CKA_SENSITIVE true and CKA_EXTRACTABLE false (C_CopyObject may only make
  // them stricter, PKCS#11 v2.40 5.7). It is made on the holder session, which the pool never
  // hands out or closes, and it is destroyed with that session or at logout (5.6).
  // Called with cache_mu_ held exclusively, which also guards holder_.
  CK_OBJECT_HANDLE SessionCopy(CK_OBJECT_HANDLE key) {
    if (!config_.session_copies) return key;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!holder_) {
        auto s = pool_.Open();
        if (!s.ok()) return key;
        holder_ = std::move(*s);
      }
      CK_BBOOL no = CK_FALSE;
      CK_ATTRIBUTE tmpl[] = {{CKA_TOKEN, &no, sizeof no}};
      CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
      CK_RV rv = fl_->C_CopyObject(holder_.handle(), key, tmpl, 1, &copy);
      if (rv == CKR_OK) return copy;
      if (!pkcs11::IsSessionLost(rv)) return key;
      // Someone closed every session of the slot: the holder went with them. Close our end.
      holder_ = pkcs11::Session();
    }
    return key;
  }

  // EnsureSecret makes a 256-bit token secret key |label| of type |kt| with |mech| unless one
  // exists: private, sensitive, never extractable, allowed exactly the operations in |allowed|
  // (each usage attribute not listed is set false, so that the key cannot be turned to
  // another use: PKCS#11 v2.40 4.9).
  Status EnsureSecret(std::string_view label, CK_KEY_TYPE kt, CK_MECHANISM_TYPE mech_type,
                      std::initializer_list<CK_ATTRIBUTE_TYPE> allowed, const char* what) {
    return WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          std::vector<CK_OBJECT_HANDLE> v;
          CK_RV rv = FindObjects(s, CKO_SECRET_KEY, label, &v);
          if (rv != CKR_OK || !v.empty()) return rv;
          CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
          CK_ULONG len = 32;
          CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
          std::vector<CK_ATTRIBUTE> tmpl = {
              {CKA_CLASS, &cls, sizeof cls},
              {CKA_KEY_TYPE, &kt, sizeof kt},
              {CKA_TOKEN, &yes, sizeof yes},
              {CKA_PRIVATE, &yes, sizeof yes},
              {CKA_SENSITIVE, &yes, sizeof yes},
              {CKA_EXTRACTABLE, &no, sizeof no},
              {CKA_VALUE_LEN, &len, sizeof len},
              {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
          };
          for (CK_ATTRIBUTE_TYPE usage :
               {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE}) {
            const bool on = std::find(allowed.begin(), allowed.end(), usage) != allowed.end();
            tmpl.push_back({usage, on ? &yes : &no, sizeof yes});
          }
          CK_MECHANISM mech = {mech_type, nullptr, 0};
          CK_OBJECT_HANDLE h;
          return fl_->C_GenerateKey(s, &mech, tmpl.data(), tmpl.size(), &h);
        },
        what, label);
  }

  // FindSecrets returns the secret keys labelled |label| (normally one).
  CK_RV FindSecrets(CK_SESSION_HANDLE s, std::string_view label, std::vector<CK_OBJECT_HANDLE>* v,
                    Status* inner) {
    CK_RV rv = FindObjects(s, CKO_SECRET_KEY, label, v);
    if (rv != CKR_OK) return rv;
    if (v->empty()) {
      CK_SESSION_INFO info;
      if (fl_->C_GetSessionInfo(s, &info) == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS &&
          info.state != CKS_RO_USER_FUNCTIONS) {
        return CKR_USER_NOT_LOGGED_IN;
      }
      *inner = NotFound("no secret key labelled '" + std::string(label) + "' in token '" +
                        config_.label + "'");
      return CKR_OK;
    }
    return CKR_OK;
  }

  CK_RV GetAttr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, Bytes* out) {
    CK_ATTRIBUTE a = {t, nullptr, 0};
    CK_RV rv = fl_->C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK) return rv;
    out->resize(a.ulValueLen);
    a.pValue = out->data();
    return fl_->C_GetAttributeValue(s, o, &a, 1);
  }

  // ReadSpki builds the SubjectPublicKeyInfo (RFC 5280 4.1.2.7) from the public key object's
  // attributes (der_keys.h).
  CK_RV ReadSpki(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, Bytes* spki, Status* inner) {
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof kt};
    CK_RV rv = fl_->C_GetAttributeValue(s, pub, &a, 1);
    if (rv != CKR_OK) return rv;
    if (kt == CKK_EC) {
      Bytes params, point;
      if ((rv = GetAttr(s, pub, CKA_EC_PARAMS, &params)) != CKR_OK) return rv;
      if ((rv = GetAttr(s, pub, CKA_EC_POINT, &point)) != CKR_OK) return rv;
      *spki = der::EcSpki(params, point);
    } else if (kt == CKK_RSA) {
      Bytes n, e;
      if ((rv = GetAttr(s, pub, CKA_MODULUS, &n)) != CKR_OK) return rv;
      if ((rv = GetAttr(s, pub, CKA_PUBLIC_EXPONENT, &e)) != CKR_OK) return rv;
      *spki = der::RsaSpki(n, e);
    } else {
      *inner = HsmError("key has unsupported CKA_KEY_TYPE " + std::to_string(kt));
    }
    return CKR_OK;
  }

  CK_RV GenerateOn(CK_SESSION_HANDLE s, std::string_view label, KeyType type, Bytes* spki,
                   Status* inner) {
    KeyHandles existing;
    CK_RV rv = FindKeys(s, label, &existing);
    if (rv != CKR_OK) return rv;
    if (existing.priv != CK_INVALID_HANDLE || existing.pub != CK_INVALID_HANDLE) {
      *inner = Conflict("token '" + config_.label + "' already holds a key labelled '" +
                        std::string(label) + "'");
      return CKR_OK;
    }
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    // CKA_ID ties the two halves of the pair together (PKCS#11 v2.40 4.7); drawn at random,
    // so that it is no other key's.
    unsigned char id[16];
    if (RAND_bytes(id, sizeof id) != 1) {
      *inner = OsslError("drawing a CKA_ID for key '" + std::string(label) + "'");
      return CKR_OK;
    }
    CK_ULONG bits = static_cast<CK_ULONG>(RsaBits(type));
    static constexpr uint8_t kF4[] = {0x01, 0x00, 0x01};
    ByteSpan curve = CurveOidDer(type);
    std::vector<CK_ATTRIBUTE> pub = {
        {CKA_TOKEN, &yes, sizeof yes},  {CKA_PRIVATE, &no, sizeof no},
        {CKA_VERIFY, &yes, sizeof yes}, {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
        {CKA_ID, id, sizeof id},
    };
    // The private key never leaves the token: sensitive, not extractable (PKCS#11 v2.40
    // 4.9: CKA_NEVER_EXTRACTABLE and CKA_ALWAYS_SENSITIVE then become true by themselves).
    std::vector<CK_ATTRIBUTE> priv = {
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_SENSITIVE, &yes, sizeof yes},
        {CKA_EXTRACTABLE, &no, sizeof no},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_DECRYPT, &no, sizeof no},
        {CKA_UNWRAP, &no, sizeof no},
        {CKA_DERIVE, &no, sizeof no},
        {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
        {CKA_ID, id, sizeof id},
    };
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    if (IsEc(type)) {
      pub.push_back({CKA_EC_PARAMS, const_cast<uint8_t*>(curve.data()), curve.size()});
    } else {
      mech.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
      pub.push_back({CKA_MODULUS_BITS, &bits, sizeof bits});
      pub.push_back({CKA_PUBLIC_EXPONENT, const_cast<uint8_t*>(kF4), sizeof kF4});
    }
    KeyHandles h;
    rv = fl_->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &h.pub,
                                &h.priv);
    if (rv != CKR_OK) return rv;
    return ReadSpki(s, h.pub, spki, inner);
  }

  CK_RV SignOn(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, KeyType type, ByteSpan digest, Bytes* sig,
               Status* inner) {
    unsigned char buf[1024];
    CK_ULONG len = sizeof buf;
    CK_RV rv;
    if (IsEc(type)) {
      // CKM_ECDSA signs a precomputed hash and returns r || s, each as long as the order
      // (PKCS#11 v2.40 2.3.6); X.509 wants the DER ECDSA-Sig-Value (RFC 5480 section 2.2).
      CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
      if ((rv = fl_->C_SignInit(s, &mech, key)) != CKR_OK) return rv;
      rv = fl_->C_Sign(s, const_cast<uint8_t*>(digest.data()), digest.size(), buf, &len);
      if (rv != CKR_OK) return rv;
      auto der_sig = der::EcdsaSigFromRaw(ByteSpan(buf, len));
      if (!der_sig.ok()) {
        *inner = HsmError("CKM_ECDSA returned a signature of odd length " + std::to_string(len));
        return CKR_OK;
      }
      *sig = std::move(der_sig).value();
      return CKR_OK;
    }
    // CKM_RSA_PKCS over a DigestInfo (RFC 8017 9.2 step 2) for the hash we computed.
    static constexpr uint8_t kSha256Prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                                0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                                0x01, 0x05, 0x00, 0x04, 0x20};
    if (digest.size() != 32) {
      *inner = Internal("RSA signing expects a SHA-256 digest");
      return CKR_OK;
    }
    unsigned char info[sizeof kSha256Prefix + 32];
    std::memcpy(info, kSha256Prefix, sizeof kSha256Prefix);
    std::memcpy(info + sizeof kSha256Prefix, digest.data(), 32);
    CK_MECHANISM mech = {CKM_RSA_PKCS, nullptr, 0};
    if ((rv = fl_->C_SignInit(s, &mech, key)) != CKR_OK) return rv;
    rv = fl_->C_Sign(s, info, sizeof info, buf, &len);
    if (rv != CKR_OK) return rv;
    sig->assign(buf, buf + len);
    return CKR_OK;
  }

 private:
  // Members are destroyed in reverse order: the pool's free sessions are closed first, then
  // the holder, and the module is finalised and unloaded last.
  std::shared_ptr<pkcs11::Module> module_;
  CK_FUNCTION_LIST_PTR fl_;
  TokenConfig config_;  // its PIN has moved to pool_
  std::shared_mutex cache_mu_;
  std::map<std::string, CK_OBJECT_HANDLE, std::less<>> cache_;  // guarded by cache_mu_
  pkcs11::Session holder_;  // holds the session copies; see SessionCopy. Guarded by cache_mu_
  pkcs11::SessionPool pool_;
};

}  // namespace

TokenConfig CloneConfig(const TokenConfig& c) {
  TokenConfig out;
  out.kind = c.kind;
  out.module = c.module;
  out.label = c.label;
  out.dir = c.dir;
  out.pin = c.pin.Clone();
  out.session_copies = c.session_copies;
  return out;
}

Result<std::unique_ptr<CryptoToken>> OpenPkcs11Token(const TokenConfig& config) {
  if (config.module.empty()) return InvalidInput("no PKCS#11 module configured (token.module)");
  if (config.label.empty()) return InvalidInput("no token label configured (token.label)");
  if (config.pin.empty()) return InvalidInput("no PIN for token '" + config.label + "'");
  CP_ASSIGN_OR_RETURN(auto module, pkcs11::Module::Load(config.module));
  // Only this token holds the module if it was just loaded: it may be initialised again.
  const bool alone = module.use_count() == 1;
  for (int attempt = 0;; ++attempt) {
    CP_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindToken(config.label, alone));
    auto token = std::make_unique<Pkcs11Token>(module, slot, CloneConfig(config));
    Status st = token->Login();
    if (st.ok()) return std::unique_ptr<CryptoToken>(std::move(token));
    // A transient read of the token's files (SessionPool::LoginOn): close our sessions, read
    // the token afresh and log in again, a few times, spaced.
    if (st.kind() != ErrorKind::kUnavailable || !alone || attempt == 4) return st;
    token.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    CP_RETURN_IF_ERROR(module->Reinitialize());
  }
}

}  // namespace certpress
