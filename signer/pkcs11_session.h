// pkcs11_session.h: PKCS#11 sessions that cannot leak, and the pool the token's threads draw
// them from; internal to signer/. The idea is Botan's p11_session: a move-only Session whose
// destructor closes it, so no path closes (or forgets to close) a raw handle by hand.
#pragma once

#include <p11-kit/pkcs11.h>

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::pkcs11 {

// IsSessionLost tells whether |rv| means the session can no longer be used (the handle is
// gone, or the token with it): close it, open a new one and try again.
bool IsSessionLost(CK_RV rv);

// Session owns one open read/write session. Destroying (or assigning over) it calls
// C_CloseSession, which destroys the session's objects (PKCS#11 v2.40 5.6); closing the
// application's last session of a token also logs it out. A default-constructed or moved-from
// Session owns nothing. The function list must outlive it (the holder of the Module ensures
// that). Not for use by two threads at once (PKCS#11 v2.40 6.7.7 leaves that to us).
class Session {
 public:
  Session() = default;
  Session(CK_FUNCTION_LIST_PTR fl, CK_SESSION_HANDLE handle) : fl_(fl), handle_(handle) {}
  Session(Session&& other) noexcept : fl_(other.fl_), handle_(other.release()) {}
  Session& operator=(Session&& other) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() { Close(); }

  // Open opens a read/write session on |slot| (C_OpenSession); |token_label| names the token
  // in the error.
  static Result<Session> Open(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot,
                              std::string_view token_label);

  explicit operator bool() const { return handle_ != CK_INVALID_HANDLE; }
  CK_SESSION_HANDLE handle() const { return handle_; }
  // release hands the handle on without closing it; the Session then owns nothing.
  [[nodiscard]] CK_SESSION_HANDLE release();

 private:
  void Close();

  CK_FUNCTION_LIST_PTR fl_ = nullptr;
  CK_SESSION_HANDLE handle_ = CK_INVALID_HANDLE;
};

// SessionPool hands out the sessions of one token and logs the application in. Free sessions
// wait in a list; a thread holds one for one operation and gives it back with Release, or drops
// it (which closes it) when it is broken. So at most one session per concurrently working
// thread is open. Sessions still in the list are closed with the pool.
class SessionPool {
 public:
  // |token_label| names the token in errors; |pin| is the user PIN, kept for logging in again.
  SessionPool(CK_FUNCTION_LIST_PTR fl, CK_SLOT_ID slot, std::string token_label, SecureString pin);

  // Open opens a new session, not from the free list (for sessions the pool never hands out,
  // such as the token's holder of session copies).
  Result<Session> Open() const { return Session::Open(fl_, slot_, token_label_); }
  // Acquire hands out a free session or opens a new one.
  Result<Session> Acquire();
  // Release puts |s| back in the free list.
  void Release(Session s);

  // Login logs the application in on a new session, which then joins the free list.
  [[nodiscard]] Status Login();
  // LoginOn logs the application in on |s|. One login serves every session of the application
  // (PKCS#11 v2.40 5.6), so "already logged in" is success. A PIN the token refuses
  // (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_PIN_EXPIRED, CKR_PIN_LEN_RANGE) is a login-refused
  // error, and the pool never offers that PIN again: every later LoginOn returns the same
  // error without calling C_Login, so one process spends at most one of the token's tries.
  [[nodiscard]] Status LoginOn(const Session& s) const;

 private:
  CK_FUNCTION_LIST_PTR fl_;
  CK_SLOT_ID slot_;
  std::string token_label_;
  SecureString pin_;
  std::mutex mu_;
  std::vector<Session> free_;  // guarded by mu_
  mutable std::mutex refused_mu_;
  mutable Status refused_;  // guarded by refused_mu_: the PIN's refusal, once it happened
};

}  // namespace certpress::pkcs11
