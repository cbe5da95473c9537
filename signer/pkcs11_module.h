// pkcs11_module.h: a loaded PKCS#11 module and its slots, internal to signer/. The module's
// function list is used directly (dlopen + C_GetFunctionList), not through libp11; see
// docs/ARCHITECTURE.md, "Signer". Sessions are in pkcs11_session.h, the CryptoToken in
// pkcs11_token.cc.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::pkcs11 {

// CkError is an HSM error "|what|: CKR_NAME", with a hint for a wrong or locked PIN.
Status CkError(std::string_view what, CK_RV rv);

// PinBytes hands a PIN to the module (C_Login, C_InitToken, C_InitPIN take it non-const). The
// pointer lives as long as |pin|.
CK_UTF8CHAR_PTR PinBytes(const SecureString& pin);

// Module is one loaded PKCS#11 library, initialised once per process (C_Initialize may be
// called only once per library, PKCS#11 v2.40 section 5.4). Everything that uses its function
// list holds the shared_ptr from Load, so the library is finalised and unloaded only after its
// last session is closed.
class Module {
 public:
  // Load returns the module at |path|, loading and initialising it on first use; later calls
  // share it while anyone holds it.
  static Result<std::shared_ptr<Module>> Load(const std::string& path);

  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  ~Module();

  CK_FUNCTION_LIST_PTR fl() const { return fl_; }
  const std::string& path() const { return path_; }

  // FindToken looks the initialised token |label| up, retrying a miss for up to five seconds;
  // |may_reinitialize| (only this caller holds the module, and no session is open) lets it
  // initialise the module again between tries so that a stale view of the token files clears.
  Result<CK_SLOT_ID> FindToken(const std::string& label, bool may_reinitialize = false);
  // Reinitialize finalises and initialises the module again, so that it reads the token
  // afresh; only where this process initialised it and no session is open (the caller's word).
  [[nodiscard]] Status Reinitialize();
  // ScanForToken looks the token up once (FindToken retries a miss).
  Result<CK_SLOT_ID> ScanForToken(const std::string& label);
  // Slots lists the slots that hold a token.
  Result<std::vector<CK_SLOT_ID>> Slots();

 private:
  Module(void* handle, CK_FUNCTION_LIST_PTR fl, bool owns_init, std::string path);

  void* handle_;
  CK_FUNCTION_LIST_PTR fl_;
  bool owns_init_;  // our C_Initialize succeeded, so C_Finalize is ours too
  std::string path_;
};

}  // namespace certpress::pkcs11
