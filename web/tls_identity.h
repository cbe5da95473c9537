// tls_identity.h: the web server's own TLS certificate, issued by CertPress itself at first
// start. Its key is a file key (P-256, PKCS#8 PEM, mode 0600, in the server's state
// directory): it is the server's key, not a CA key, and the server must hold it in memory for
// every handshake anyway. The certificate comes from a card profile whose keys are the
// requester's (token = "csr", by default `tls-server`): its fields (cn, dns, ip) are checked
// and rendered by the same request builder as CSV rows, its CA resolved as for any request,
// and it goes through the issuance core (Prepare, Record, Sign, persist with an audit entry).
// A certificate that expires within |renew_days|, whose names differ from those asked for or
// that does not carry the key, is replaced at the next start.
#pragma once

#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"
#include "signer/token.h"
#include "store/db.h"

namespace certpress::web {

struct TlsIdentityOptions {
  std::string dir;                     // holds tls.key (0600) and tls.crt (leaf, then chain)
  std::string profile = "tls-server";  // a card profile with token = "csr"
  std::vector<std::string> names;      // DNS names and IP addresses; the first is the CN
  int renew_days = 30;
  std::string actor = "web";
};

struct TlsIdentity {
  std::string cert_chain_pem;
  SecureString key_pem;
  std::string serial_hex;
  bool issued_now = false;
};

Result<TlsIdentity> EnsureTlsIdentity(store::Connection& db, CryptoToken& token,
                                      const profiles::ProfileSet& profiles,
                                      const TlsIdentityOptions& options);

}  // namespace certpress::web
