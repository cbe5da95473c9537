// pkcs11_token.cc: the PKCS#11 crypto token. We talk to the module's function list directly
// (dlopen + C_GetFunctionList) rather than through libp11's object layer because the hot path
// needs what libp11 hides: one session per worker with its own recovery, the CK_RV of every
// failure, and a key-generation template we control attribute by attribute
// (CKA_EXTRACTABLE false, CKA_SENSITIVE true). See docs/ARCHITECTURE.md, "Signer".
#include <dlfcn.h>
#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include <cstring>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <vector>

#include "common/ossl.h"
#include "signer/der.h"
#include "signer/p11_uri.h"
#include "signer/pkcs11_internal.h"
#include "signer/token.h"

namespace certpress {

std::string CkrName(unsigned long rv) {
  switch (rv) {
#define CKR_CASE(x) \
  case x:           \
    return #x
    CKR_CASE(CKR_OK);
    CKR_CASE(CKR_CANCEL);
    CKR_CASE(CKR_HOST_MEMORY);
    CKR_CASE(CKR_SLOT_ID_INVALID);
    CKR_CASE(CKR_GENERAL_ERROR);
    CKR_CASE(CKR_FUNCTION_FAILED);
    CKR_CASE(CKR_ARGUMENTS_BAD);
    CKR_CASE(CKR_ATTRIBUTE_TYPE_INVALID);
    CKR_CASE(CKR_ATTRIBUTE_VALUE_INVALID);
    CKR_CASE(CKR_DATA_LEN_RANGE);
    CKR_CASE(CKR_DEVICE_ERROR);
    CKR_CASE(CKR_DEVICE_MEMORY);
    CKR_CASE(CKR_DEVICE_REMOVED);
    CKR_CASE(CKR_KEY_HANDLE_INVALID);
    CKR_CASE(CKR_MECHANISM_INVALID);
    CKR_CASE(CKR_MECHANISM_PARAM_INVALID);
    CKR_CASE(CKR_OBJECT_HANDLE_INVALID);
    CKR_CASE(CKR_OPERATION_ACTIVE);
    CKR_CASE(CKR_OPERATION_NOT_INITIALIZED);
    CKR_CASE(CKR_PIN_INCORRECT);
    CKR_CASE(CKR_PIN_LOCKED);
    CKR_CASE(CKR_SESSION_CLOSED);
    CKR_CASE(CKR_SESSION_COUNT);
    CKR_CASE(CKR_SESSION_HANDLE_INVALID);
    CKR_CASE(CKR_SESSION_READ_ONLY);
    CKR_CASE(CKR_TEMPLATE_INCOMPLETE);
    CKR_CASE(CKR_TEMPLATE_INCONSISTENT);
    CKR_CASE(CKR_TOKEN_NOT_PRESENT);
    CKR_CASE(CKR_TOKEN_NOT_RECOGNIZED);
    CKR_CASE(CKR_USER_ALREADY_LOGGED_IN);
    CKR_CASE(CKR_USER_NOT_LOGGED_IN);
    CKR_CASE(CKR_USER_PIN_NOT_INITIALIZED);
    CKR_CASE(CKR_BUFFER_TOO_SMALL);
    CKR_CASE(CKR_CRYPTOKI_NOT_INITIALIZED);
    CKR_CASE(CKR_CRYPTOKI_ALREADY_INITIALIZED);
#undef CKR_CASE
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "CKR_0x%08lx", rv);
      return buf;
    }
  }
}

namespace {

Status CkError(std::string_view what, CK_RV rv) {
  std::string m = std::string(what) + ": " + CkrName(rv);
  if (rv == CKR_PIN_INCORRECT) m += " (wrong PIN)";
  if (rv == CKR_PIN_LOCKED) m += " (the user PIN is locked)";
  return HsmError(std::move(m));
}

// A session that can no longer be used: open a new one and try again.
bool IsSessionLost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_ERROR ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT;
}

std::string PaddedLabel(const unsigned char* label, size_t n) {
  std::string s(reinterpret_cast<const char*>(label), n);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

// Module is one loaded PKCS#11 library, initialised once per process (C_Initialize may be
// called only once per library, PKCS#11 v2.40 section 5.4).
class Module {
 public:
  static Result<std::shared_ptr<Module>> Load(const std::string& path) {
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<Module>> loaded;
    std::lock_guard<std::mutex> lock(mu);
    if (auto m = loaded[path].lock()) return m;
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      return Unavailable("cannot load PKCS#11 module " + path + ": " + dlerror());
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
    CK_FUNCTION_LIST_PTR fl = nullptr;
    if (get == nullptr || get(&fl) != CKR_OK || fl == nullptr) {
      dlclose(handle);
      return HsmError(path + " is not a PKCS#11 module (no C_GetFunctionList)");
    }
    CK_C_INITIALIZE_ARGS args = {};
    args.flags = CKF_OS_LOCKING_OK;  // we call it from many threads
    CK_RV rv = fl->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      dlclose(handle);
      return CkError("C_Initialize of " + path, rv);
    }
    auto m = std::shared_ptr<Module>(new Module(handle, fl, rv == CKR_OK));
    loaded[path] = m;
    return m;
  }

  ~Module() {
    if (owns_init_) fl_->C_Finalize(nullptr);
    dlclose(handle_);
  }

  CK_FUNCTION_LIST_PTR fl() const { return fl_; }

  Result<CK_SLOT_ID> FindToken(const std::string& label, const std::string& path) {
    CK_ULONG n = 0;
    CK_RV rv = fl_->C_GetSlotList(CK_TRUE, nullptr, &n);
    if (rv != CKR_OK) return CkError("C_GetSlotList", rv);
    std::vector<CK_SLOT_ID> slots(n);
    rv = fl_->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv != CKR_OK) return CkError("C_GetSlotList", rv);
    slots.resize(n);
    std::string seen;
    for (CK_SLOT_ID s : slots) {
      CK_TOKEN_INFO info;
      if (fl_->C_GetTokenInfo(s, &info) != CKR_OK) continue;
      std::string l = PaddedLabel(info.label, sizeof info.label);
      if (l == label) {
        if (!(info.flags & CKF_TOKEN_INITIALIZED)) {
          return HsmError("token '" + label + "' is not initialised");
        }
        return s;
      }
      if (!seen.empty()) seen += ", ";
      seen += "'" + l + "'";
    }
    return NotFound("no token labelled '" + label + "' in PKCS#11 module " + path +
                    (seen.empty() ? " (it has no tokens)" : " (tokens: " + seen + ")"));
  }

 private:
  Module(void* h, CK_FUNCTION_LIST_PTR fl, bool owns) : handle_(h), fl_(fl), owns_init_(owns) {}
  void* handle_;
  CK_FUNCTION_LIST_PTR fl_;
  bool owns_init_;
};

struct KeyHandles {
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
};

class Pkcs11Token final : public CryptoToken {
 public:
  Pkcs11Token(std::shared_ptr<Module> module, CK_SLOT_ID slot, TokenConfig config)
      : module_(std::move(module)), fl_(module_->fl()), slot_(slot), config_(std::move(config)) {}

  ~Pkcs11Token() override {
    for (CK_SESSION_HANDLE s : free_) fl_->C_CloseSession(s);
  }

  Status Login() {
    CP_ASSIGN_OR_RETURN(CK_SESSION_HANDLE s, OpenSession());
    Status st = LoginOn(s);
    Release(s, !st.ok());
    return st;
  }

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

  Status EnsureSecretKey(std::string_view label) override {
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          std::vector<CK_OBJECT_HANDLE> v;
          CK_RV rv = FindObjects(s, CKO_SECRET_KEY, label, &v);
          if (rv != CKR_OK || !v.empty()) return rv;
          CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
          CK_ULONG len = 32;
          CK_KEY_TYPE kt = CKK_AES;
          CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
          // The KEK never leaves the token and does nothing but encrypt and decrypt data keys.
          CK_ATTRIBUTE tmpl[] = {
              {CKA_CLASS, &cls, sizeof cls},
              {CKA_KEY_TYPE, &kt, sizeof kt},
              {CKA_TOKEN, &yes, sizeof yes},
              {CKA_PRIVATE, &yes, sizeof yes},
              {CKA_SENSITIVE, &yes, sizeof yes},
              {CKA_EXTRACTABLE, &no, sizeof no},
              {CKA_ENCRYPT, &yes, sizeof yes},
              {CKA_DECRYPT, &yes, sizeof yes},
              {CKA_WRAP, &no, sizeof no},
              {CKA_UNWRAP, &no, sizeof no},
              {CKA_SIGN, &no, sizeof no},
              {CKA_VALUE_LEN, &len, sizeof len},
              {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
          };
          CK_MECHANISM mech = {CKM_AES_KEY_GEN, nullptr, 0};
          CK_OBJECT_HANDLE h;
          return fl_->C_GenerateKey(s, &mech, tmpl, sizeof tmpl / sizeof tmpl[0], &h);
        },
        "creating secret key", label);
    if (!st.ok()) return st;
    return inner;
  }

  Result<Bytes> SecretEncrypt(std::string_view label, ByteSpan plaintext, ByteSpan aad) override {
    Bytes out;
    Status inner;
    Status st = WithSession(
        [&](CK_SESSION_HANDLE s) -> CK_RV {
          CK_OBJECT_HANDLE key;
          CK_RV rv = FindSecret(s, label, &key, &inner);
          if (rv != CKR_OK || !inner.ok()) return rv;
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
          CK_OBJECT_HANDLE key;
          CK_RV rv = FindSecret(s, label, &key, &inner);
          if (rv != CKR_OK || !inner.ok()) return rv;
          CK_GCM_PARAMS gcm = {const_cast<uint8_t*>(blob.data()), 12,         96,
                               const_cast<uint8_t*>(aad.data()),  aad.size(), 128};
          CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
          if ((rv = fl_->C_DecryptInit(s, &mech, key)) != CKR_OK) return rv;
          plain.assign(blob.size(), '\0');
          CK_ULONG len = plain.size();
          rv = fl_->C_Decrypt(s, const_cast<uint8_t*>(blob.data() + 12), blob.size() - 12,
                              reinterpret_cast<uint8_t*>(plain.data()), &len);
          if (rv == CKR_OK) plain.resize(len);
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
  Result<CK_SESSION_HANDLE> OpenSession() {
    CK_SESSION_HANDLE s;
    CK_RV rv = fl_->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s);
    if (rv != CKR_OK) return CkError("C_OpenSession on token '" + config_.label + "'", rv);
    return s;
  }

  Status LoginOn(CK_SESSION_HANDLE s) {
    CK_RV rv = fl_->C_Login(
        s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(config_.pin.str().data())),
        config_.pin.size());
    // One login serves every session of the application (PKCS#11 v2.40 section 5.6).
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      return CkError("logging in to token '" + config_.label + "'", rv);
    }
    return Status::Ok();
  }

  // Acquire hands out a free session or opens a new one; sessions are never shared between
  // threads at the same time (PKCS#11 v2.40 section 6.7.7 leaves that to the application).
  Result<CK_SESSION_HANDLE> Acquire() {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);
      if (!free_.empty()) {
        CK_SESSION_HANDLE s = free_.back();
        free_.pop_back();
        return s;
      }
    }
    return OpenSession();
  }

  void Release(CK_SESSION_HANDLE s, bool broken) {
    if (broken) {
      fl_->C_CloseSession(s);
      return;
    }
    std::lock_guard<std::mutex> lock(pool_mu_);
    free_.push_back(s);
  }

  // WithSession runs |op| on a pooled session. CKR_USER_NOT_LOGGED_IN logs in again and
  // retries; a lost session (handle invalid, device error) is closed and the operation
  // retried once on a fresh session.
  // |action| and |label| name the operation in errors; the message is only built on failure,
  // since this runs once per certificate.
  template <class Op>
  Status WithSession(Op op, std::string_view action, std::string_view label) {
    auto what = [&] { return std::string(action) + " '" + std::string(label) + "'"; };
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto s = Acquire();
      if (!s.ok()) return s.status().Wrap(what());
      CK_RV rv = op(*s);
      if (rv == CKR_OK) {
        Release(*s, false);
        return Status::Ok();
      }
      // A lost login (another part of the application closed every session, or logged out)
      // shows up as CKR_USER_NOT_LOGGED_IN, or as invalid handles for the private objects we
      // cached: log in again, forget the handles, retry.
      if (rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID ||
          rv == CKR_OBJECT_HANDLE_INVALID) {
        {
          std::unique_lock lock(cache_mu_);
          cache_.clear();
        }
        Status st = LoginOn(*s);
        Release(*s, !st.ok());
        if (!st.ok()) return st.Wrap(what());
        continue;
      }
      if (IsSessionLost(rv)) {
        Release(*s, true);
        continue;
      }
      Release(*s, false);
      return CkError(what(), rv);
    }
    return HsmError(what() + ": the token kept failing after re-login and a new session");
  }

  CK_RV FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, std::string_view label,
                    std::vector<CK_OBJECT_HANDLE>* out) {
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_LABEL, const_cast<char*>(label.data()), label.size()},
    };
    CK_RV rv = fl_->C_FindObjectsInit(s, tmpl, 2);
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
    *out = v.empty() ? CK_INVALID_HANDLE : v[0];
    if (!v.empty()) {
      std::unique_lock lock(cache_mu_);
      cache_[std::string(label)] = v[0];
    }
    return CKR_OK;
  }

  CK_RV FindSecret(CK_SESSION_HANDLE s, std::string_view label, CK_OBJECT_HANDLE* key,
                   Status* inner) {
    std::vector<CK_OBJECT_HANDLE> v;
    CK_RV rv = FindObjects(s, CKO_SECRET_KEY, label, &v);
    if (rv != CKR_OK) return rv;
    if (v.empty()) {
      CK_SESSION_INFO info;
      if (fl_->C_GetSessionInfo(s, &info) == CKR_OK && info.state != CKS_RW_USER_FUNCTIONS &&
          info.state != CKS_RO_USER_FUNCTIONS) {
        return CKR_USER_NOT_LOGGED_IN;
      }
      *inner = NotFound("no secret key labelled '" + std::string(label) + "' in token '" +
                        config_.label + "'");
      return CKR_OK;
    }
    *key = v[0];
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

  // ReadSpki builds the SubjectPublicKeyInfo (RFC 5280 4.1.2.7) from the public key object.
  CK_RV ReadSpki(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, Bytes* spki, Status* inner) {
    CK_KEY_TYPE kt;
    CK_ATTRIBUTE a = {CKA_KEY_TYPE, &kt, sizeof kt};
    CK_RV rv = fl_->C_GetAttributeValue(s, pub, &a, 1);
    if (rv != CKR_OK) return rv;
    der::Writer w;
    size_t seq = w.Begin(der::kSequence);
    size_t alg = w.Begin(der::kSequence);
    if (kt == CKK_EC) {
      Bytes params, point;
      if ((rv = GetAttr(s, pub, CKA_EC_PARAMS, &params)) != CKR_OK) return rv;
      if ((rv = GetAttr(s, pub, CKA_EC_POINT, &point)) != CKR_OK) return rv;
      static constexpr uint8_t kEcPublicKey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
      w.OidContent(kEcPublicKey);
      w.Raw(params);
      w.End(alg);
      // CKA_EC_POINT is the DER OCTET STRING wrapping the X9.62 point (PKCS#11 v2.40 2.3.3);
      // some modules give the raw point. Accept both.
      ByteSpan raw = point;
      der::Reader r(point);
      ByteSpan inner_point;
      if (r.Read(der::kOctetString, &inner_point) && r.empty()) raw = inner_point;
      w.BitString(raw);
    } else if (kt == CKK_RSA) {
      Bytes n, e;
      if ((rv = GetAttr(s, pub, CKA_MODULUS, &n)) != CKR_OK) return rv;
      if ((rv = GetAttr(s, pub, CKA_PUBLIC_EXPONENT, &e)) != CKR_OK) return rv;
      static constexpr uint8_t kRsaEncryption[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                   0x0d, 0x01, 0x01, 0x01};
      w.OidContent(kRsaEncryption);
      w.Null();
      w.End(alg);
      der::Writer k;
      size_t ks = k.Begin(der::kSequence);
      k.Integer(n);
      k.Integer(e);
      k.End(ks);
      w.BitString(k.bytes());
    } else {
      *inner = HsmError("key has unsupported CKA_KEY_TYPE " + std::to_string(kt));
      return CKR_OK;
    }
    w.End(seq);
    *spki = w.Take();
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
    unsigned char id[16];
    RAND_bytes(id, sizeof id);
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
      if (len % 2 != 0 || len == 0) {
        *inner = HsmError("CKM_ECDSA returned a signature of odd length " + std::to_string(len));
        return CKR_OK;
      }
      size_t half = len / 2;
      der::Writer w;
      size_t seq = w.Begin(der::kSequence);
      w.Integer(ByteSpan(buf, half));
      w.Integer(ByteSpan(buf + half, half));
      w.End(seq);
      *sig = w.Take();
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
  std::shared_ptr<Module> module_;
  CK_FUNCTION_LIST_PTR fl_;
  CK_SLOT_ID slot_;
  TokenConfig config_;
  std::mutex pool_mu_;
  std::vector<CK_SESSION_HANDLE> free_;
  std::shared_mutex cache_mu_;
  std::map<std::string, CK_OBJECT_HANDLE, std::less<>> cache_;
};

}  // namespace

TokenConfig CloneConfig(const TokenConfig& c) {
  TokenConfig out;
  out.kind = c.kind;
  out.module = c.module;
  out.label = c.label;
  out.dir = c.dir;
  out.pin = c.pin.Clone();
  out.max_sessions = c.max_sessions;
  return out;
}

Result<std::unique_ptr<CryptoToken>> OpenPkcs11Token(const TokenConfig& config) {
  if (config.module.empty()) return InvalidInput("no PKCS#11 module configured (token.module)");
  if (config.label.empty()) return InvalidInput("no token label configured (token.label)");
  if (config.pin.empty()) return InvalidInput("no PIN for token '" + config.label + "'");
  CP_ASSIGN_OR_RETURN(auto module, Module::Load(config.module));
  CP_ASSIGN_OR_RETURN(CK_SLOT_ID slot, module->FindToken(config.label, config.module));
  auto token = std::make_unique<Pkcs11Token>(module, slot, CloneConfig(config));
  CP_RETURN_IF_ERROR(token->Login());
  return std::unique_ptr<CryptoToken>(std::move(token));
}

}  // namespace certpress
