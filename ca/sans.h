// sans.h: a request's subjectAltNames as the store keeps them (requests.sans_json):
// [["email","a@example.org"], ["dns","host.example.org"], ...]. Read here, below both the RA
// that writes them and the KGS stations and batch pipeline that issue from them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "signer/issuer.h"

namespace certpress::ca {

// SansFromJson reads a stored SAN list; a malformed one is an internal error (the store holds
// only what the request builder wrote).
Result<std::vector<SubjectAltName>> SansFromJson(std::string_view json);

}  // namespace certpress::ca
