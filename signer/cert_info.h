// cert_info.h: what CertPress reads back out of a certificate (its own CA certificates, an
// imported sub-CA certificate), via OpenSSL's parser.
#pragma once

#include <ctime>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

struct CertInfo {
  Bytes der;
  Bytes subject_der;
  Bytes issuer_der;
  Bytes spki;
  std::string subject;  // RFC 4514
  std::string issuer;   // RFC 4514
  std::string serial_hex;
  time_t not_before = 0;
  time_t not_after = 0;
  bool is_ca = false;
  bool self_signed = false;
  long path_len = -1;  // basicConstraints pathLenConstraint; -1: none
};

// ParseCertificate parses one DER certificate.
Result<CertInfo> ParseCertificate(ByteSpan der);
// ParsePemCertificates parses every CERTIFICATE block of a PEM text, in order.
Result<std::vector<CertInfo>> ParsePemCertificates(std::string_view pem);
// ToPem renders DER as a PEM block of |label| ("CERTIFICATE", "CERTIFICATE REQUEST").
std::string ToPem(ByteSpan der, const char* label = "CERTIFICATE");
// VerifySignedBy checks that |cert| carries a valid signature by |issuer|'s key.
bool VerifySignedBy(const CertInfo& cert, const CertInfo& issuer);
// VerifyChain runs OpenSSL's path validation (X509_V_FLAG_X509_STRICT) of |leaf| up to a
// self-signed certificate among |chain|.
[[nodiscard]] Status VerifyChain(const CertInfo& leaf, const std::vector<CertInfo>& chain);
// VerifyChainTo validates |leaf| up to one of |anchors| only (X509_V_FLAG_X509_STRICT; an
// anchor may be an intermediate, X509_V_FLAG_PARTIAL_CHAIN). |intermediates| help build the
// path but are never trusted, even when self-signed: a caller who supplies the chain does not
// thereby supply the trust.
[[nodiscard]] Status VerifyChainTo(const CertInfo& leaf, const std::vector<CertInfo>& anchors,
                                   const std::vector<CertInfo>& intermediates);

}  // namespace certpress
