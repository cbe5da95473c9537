// request_builder.h: turns a request's fields (a CSV row, --field values) into what the
// certificate will say, per the card profile: field checks (text, length, pattern, kind),
// then the subject DN and SANs from the profile's templates.
#pragma once

#include <map>
#include <regex>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "signer/issuer.h"
#include "store/requests.h"

namespace certpress::ra {

using Fields = std::map<std::string, std::string>;

struct FieldProblem {
  std::string field;    // which field (empty: the request as a whole)
  size_t offset = 0;    // character offset within the value, where it is known
  std::string message;  // what is wrong, without the location
  // What kind of problem, for a page that says it in the profile's language (web/), and the
  // offending value (a list field's element); kOther: only |message| says it.
  enum class Kind { kOther, kRequired, kTooLong, kSpaces, kNotEmail, kNotDns, kNotIp, kPattern };
  Kind kind = Kind::kOther;
  std::string value;
};

struct BuiltRequest {
  std::string subject;  // RFC 4514
  Bytes subject_der;
  std::vector<SubjectAltName> sans;
  std::string sans_json;
  std::string fields_json;
  std::string natural_key;
};

class RequestBuilder {
 public:
  // Create compiles the profile's field patterns once.
  static Result<RequestBuilder> Create(const profiles::CardProfile& profile);

  // Check validates every field and reports each problem (none: the fields are good).
  // Fields the profile does not declare are problems too.
  std::vector<FieldProblem> Check(const Fields& fields) const;

  // Build renders subject and SANs from checked fields; a value the DN encoder refuses (a
  // country that is not two letters, an over-long CN) is reported against the field that
  // fed it.
  Result<BuiltRequest> Build(const Fields& fields, FieldProblem* problem) const;

  const profiles::CardProfile& profile() const { return *profile_; }

 private:
  const profiles::CardProfile* profile_ = nullptr;
  std::map<std::string, std::regex> patterns_;
};

// NewRequestRow makes the request row for |built| under |profile| and CA |ca_id|: the profile
// it pins (name, content hash, approvals needed) and what the certificate will say. Natural
// key, CSR and import columns are the caller's.
store::NewRequest NewRequestRow(const profiles::CardProfile& profile, int64_t ca_id,
                                BuiltRequest built);

// SansToJson / SansFromJson store SANs as [["email","a@example.org"], ...] (reading is
// ca::SansFromJson's, which the stations use too).
std::string SansToJson(const std::vector<SubjectAltName>& sans);
Result<std::vector<SubjectAltName>> SansFromJson(std::string_view json);

// CheckDnsName checks a host name for a dNSName: LDH labels (RFC 1123 2.1, RFC 5280 4.2.1.6
// preferred syntax) of 1 to 63 characters, at most 253 in all; not an IP address or a number
// (an all-numeric last label, RFC 3696 2), not "localhost" or a name under it (RFC 6761 6.3).
// The error says which.
[[nodiscard]] Status CheckDnsName(std::string_view s);
bool IsDnsName(std::string_view s);
// IsIpAddress checks an IPv4 dotted quad or an IPv6 address (inet_pton's forms).
bool IsIpAddress(std::string_view s);
// IsEmailAddress checks an addr-spec good enough for rfc822Name (ASCII local@domain).
bool IsEmailAddress(std::string_view s);

}  // namespace certpress::ra
