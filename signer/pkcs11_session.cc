// pkcs11_session.cc: Session (closed on every path) and the SessionPool; see pkcs11_session.h.
#include "signer/pkcs11_session.h"

#include "signer/pkcs11_internal.h"
#include "signer/pkcs11_module.h"

namespace certpress::pkcs11 {

bool IsSessionLost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_DEVICE_ERROR ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT;
}

Session& Session::operator=(Session&& other) noexcept {
  if (this != &other) {
    Close();
    fl_ = other.fl_;
    handle_ = other.release();
  }
  return *this;
}

Result<Session> Session::Open(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot,
                              std::string_view token_label) {
  CK_SESSION_HANDLE h;
  CK_RV rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h);
  if (rv != CKR_OK) {
    return CkError("C_OpenSession on token '" + std::string(token_label) + "'", rv);
  }
  return Session(fl, h);
}

CK_SESSION_HANDLE Session::release() {
  CK_SESSION_HANDLE h = handle_;
  handle_ = CK_INVALID_HANDLE;
  return h;
}

void Session::Close() {
  // A failure to close leaves nothing to do: the handle is gone from our side either way.
  if (handle_ != CK_INVALID_HANDLE) fl_->C_CloseSession(handle_);
  handle_ = CK_INVALID_HANDLE;
}

SessionPool::SessionPool(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot, std::string token_label,
                         SecureString pin)
    : fl_(fl), slot_(slot), token_label_(std::move(token_label)), pin_(std::move(pin)) {}

Result<Session> SessionPool::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_.empty()) {
      Session s = std::move(free_.back());
      free_.pop_back();
      return s;
    }
  }
  return Open();
}

void SessionPool::Release(Session s) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(s));
}

Status SessionPool::Login() {
  CP_ASSIGN_OR_RETURN(Session s, Open());
  CP_RETURN_IF_ERROR(LoginOn(s));  // a session that failed to log in is closed
  Release(std::move(s));
  return Status::Ok();
}

Status SessionPool::LoginOn(const Session& s) const {
  std::lock_guard<std::mutex> lock(refused_mu_);
  if (!refused_.ok()) return refused_;
  CK_RV rv = fl_->C_Login(s.handle(), CKU_USER, PinBytes(pin_), pin_.size());
  if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED || rv == CKR_PIN_EXPIRED ||
      rv == CKR_PIN_LEN_RANGE) {
    const char* why = rv == CKR_PIN_LOCKED    ? "the user PIN is locked"
                      : rv == CKR_PIN_EXPIRED ? "the user PIN has expired"
                                              : "wrong PIN";
    refused_ =
        LoginRefused("token '" + token_label_ + "' login refused: " + why + " (" + CkrName(rv) +
                     "); not retried, so that the PIN is not locked: fix "
                     "token.pin-file and start again");
    return refused_;
  }
  if (rv == CKR_USER_PIN_NOT_INITIALIZED || rv == CKR_GENERAL_ERROR) {
    // SoftHSM2 keeps a token in files that a process rewrites when it creates an object; a
    // login that read them mid-write fails so (seen with six processes logging in while one
    // made a key), and the module keeps the bad read until it is initialised again. No PIN was
    // checked: Unavailable lets OpenPkcs11Token reinitialise and try again.
    return Unavailable("logging in to token '" + token_label_ + "': " + CkrName(rv));
  }
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
    return CkError("logging in to token '" + token_label_ + "'", rv);
  }
  return Status::Ok();
}

}  // namespace certpress::pkcs11
