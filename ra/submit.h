// submit.h: a PKCS#10 request (RFC 2986) submitted against a card profile, as `request submit`
// takes it today and the RA API will: proof of possession and the key policy checked in one
// parse, extensions the profile does not allow refused (never copied), the CSR's CN and DNS
// names filling the fields the submitter left open, the fields checked exactly as CSV rows
// are, and the request stored and audited in one transaction.
#pragma once

#include <string>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "ra/request_builder.h"
#include "store/db.h"

namespace certpress::ra {

struct CsrSubmission {
  std::string source;  // where the CSR came from, for messages (a file name)
  std::string csr;     // PEM or DER
  Fields fields;       // the submitter's fields (--field k=v)
  int64_t ca_id = 0;   // the issuing CA (ResolveCa)
  std::string actor;   // for the audit log
};

struct Submitted {
  int64_t id = 0;
  std::string state;  // "approved" (the profile needs no approval) or "pending"
  std::string subject;
};

// SubmitCsr checks |s| against |profile| (whose certificate profiles are in |profiles|) and
// stores the request. A profile whose keys are not the requester's is invalid input.
Result<Submitted> SubmitCsr(store::Connection& db, const profiles::ProfileSet& profiles,
                            const profiles::CardProfile& profile, const CsrSubmission& s);

// ResolveCa returns the id of the active CA |label|, or of the profile's default CA if |label|
// is empty. It refuses a CA the profile does not list (CardProfile::cas) and any root CA (a
// self-signed certificate): card profiles are end-entity profiles, and roots sign only CAs.
// Errors name the profile and the CA.
Result<int64_t> ResolveCa(store::Connection& db, const profiles::CardProfile& profile,
                          const std::string& label);

}  // namespace certpress::ra
