#include "common/status.h"

namespace certpress {

std::string_view ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOk:
      return "ok";
    case ErrorKind::kInvalidInput:
      return "invalid input";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kConflict:
      return "conflict";
    case ErrorKind::kUnavailable:
      return "unavailable";
    case ErrorKind::kHsm:
      return "hsm";
    case ErrorKind::kCard:
      return "card";
    case ErrorKind::kDatabase:
      return "database";
    case ErrorKind::kInternal:
      return "internal";
    case ErrorKind::kLoginRefused:
      return "login refused";
  }
  return "unknown";
}

Status Status::Wrap(std::string_view context) const {
  if (ok()) return *this;
  std::string m;
  m.reserve(context.size() + 2 + message_.size());
  m.append(context).append(": ").append(message_);
  return Status(kind_, std::move(m));
}

}  // namespace certpress
