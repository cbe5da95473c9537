// status.h: the one error type below app/: a coarse kind plus a message that gains context as
// it travels up ("persisting chunk 12: inserting certificate: Duplicate entry ..."). Shaped so
// that Result<T> can become std::expected<T, Status> once the toolchain has it.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace certpress {

enum class ErrorKind {
  kOk = 0,
  kInvalidInput,  // the caller's input is wrong; retrying will not help
  kNotFound,
  kConflict,     // uniqueness or state conflict (duplicate serial, wrong request state)
  kUnavailable,  // retryable: lost connection, deadlock, lock wait, device busy
  kHsm,          // PKCS#11 failure; the CK_RV is in the message
  kCard,         // PC/SC or card status word
  kDatabase,     // MariaDB failure that is not retryable
  kInternal,     // a bug or an OpenSSL failure we did not expect
  // A token refused our credentials (wrong, locked or expired PIN). Never retried: each try
  // brings a real HSM closer to locking the PIN and stopping all issuance; a person must act.
  kLoginRefused,
};

// ErrorKindName returns a stable lower-case name ("invalid input", "hsm", ...).
std::string_view ErrorKindName(ErrorKind kind);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return kind_ == ErrorKind::kOk; }
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // Wrap returns a copy whose message is prefixed with |context| ("context: message"). An OK
  // status stays OK.
  Status Wrap(std::string_view context) const;

  // ToString renders "message" for errors and "ok" otherwise.
  std::string ToString() const { return ok() ? std::string("ok") : message_; }

  // IgnoreError documents a deliberate drop of a status (best-effort cleanup paths).
  void IgnoreError() const {}

 private:
  ErrorKind kind_ = ErrorKind::kOk;
  std::string message_;
};

inline Status InvalidInput(std::string m) {
  return {ErrorKind::kInvalidInput, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {ErrorKind::kNotFound, std::move(m)};
}
inline Status Conflict(std::string m) {
  return {ErrorKind::kConflict, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {ErrorKind::kUnavailable, std::move(m)};
}
inline Status HsmError(std::string m) {
  return {ErrorKind::kHsm, std::move(m)};
}
inline Status CardError(std::string m) {
  return {ErrorKind::kCard, std::move(m)};
}
inline Status DatabaseError(std::string m) {
  return {ErrorKind::kDatabase, std::move(m)};
}
inline Status LoginRefused(std::string m) {
  return {ErrorKind::kLoginRefused, std::move(m)};
}
inline Status Internal(std::string m) {
  return {ErrorKind::kInternal, std::move(m)};
}

// Result holds either a value or a non-OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design, like expected
  Result(Status status) : v_(std::move(status)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace certpress

#define CP_CONCAT_INNER(a, b) a##b
#define CP_CONCAT(a, b) CP_CONCAT_INNER(a, b)

// CP_RETURN_IF_ERROR(expr): return the Status of |expr| if it is not OK.
#define CP_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::certpress::Status cp_status_ = (expr); \
    if (!cp_status_.ok()) return cp_status_; \
  } while (0)

// CP_ASSIGN_OR_RETURN(lhs, expr): evaluate the Result |expr|; on error return its Status,
// otherwise move the value into |lhs| (which may be a declaration).
#define CP_ASSIGN_OR_RETURN(lhs, expr) \
  CP_ASSIGN_OR_RETURN_IMPL(CP_CONCAT(cp_result_, __LINE__), lhs, expr)
#define CP_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
