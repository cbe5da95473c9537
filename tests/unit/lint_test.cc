// The lint rules (signer/lint.h), one by one: a TBSCertificate written with our DER writer
// that passes every rule, and for each rule a change that breaks it and only it is reported
// under that rule's name (the cases are tests/support/lint_certs.h's, shared with the CLI
// test). A rule without a breaking case fails EveryRuleHasACase.
#include "signer/lint.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "cardprofiles/profile.h"
#include "signer/cert_info.h"
#include "signer/der.h"
#include "signer/issuer.h"
#include "signer/key_type.h"
#include "signer/lint_files.h"
#include "signer/name.h"
#include "tests/support/lint_certs.h"
#include "tests/support/memory_ledger.h"
#include "tests/support/soft_token.h"

namespace certpress {
namespace {
using namespace certpress::testing;  // NOLINT: the shared test certificates

const LintResult* ResultOf(const LintReport& r, std::string_view rule) {
  for (const auto& x : r.results) {
    if (x.rule == rule) return &x;
  }
  return nullptr;
}

TEST(LintTest, TheBaseCertificatePassesEveryRule) {
  Tbs t;
  Status st = LintTbs(t.Encode(), DefaultOptions());
  EXPECT_TRUE(st.ok()) << st.message();
  Tbs ca;
  ca.MakeCa();
  st = LintTbs(ca.Encode(), DefaultOptions());
  EXPECT_TRUE(st.ok()) << st.message();
  Tbs smime;
  smime.MakeSmime();
  st = LintTbs(smime.Encode(), DefaultOptions());
  EXPECT_TRUE(st.ok()) << st.message();
  // An RSA key of the kind the key policy accepts.
  Tbs rsa;
  rsa.spki = RsaSpki();
  rsa.Set("2.5.29.15", true, KeyUsage({0, 2}));
  st = LintTbs(rsa.Encode(), DefaultOptions());
  EXPECT_TRUE(st.ok()) << st.message();
  // A TLS server certificate issued under SC-081's first step for 198 days (the tls-server
  // profile's validity).
  Tbs now;
  now.not_before = 1780272000;  // 2026-06-01
  now.not_after = now.not_before + 198 * 86400;
  st = LintTbs(now.Encode(), DefaultOptions());
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(LintTest, EachRuleRefusesTheCertificateThatBreaksIt) {
  for (const auto& c : Cases()) {
    SCOPED_TRACE(c.rule);
    Tbs t;
    LintOptions o = DefaultOptions();
    c.breaks(t, o);
    const LintRule* rule = FindLintRule(c.rule);
    ASSERT_NE(rule, nullptr);
    const bool fatal = std::string_view(c.rule) == "cp_asn1_structure" ||
                       std::string_view(c.rule) == "e_cert_ext_invalid_der";
    // Before signing: the issuer refuses it, naming a rule.
    if ((rule->applies_to & kLintTbs) && rule->severity >= LintStatus::kWarn) {
      Status st = LintTbs(t.Encode(), o);
      ASSERT_FALSE(st.ok());
      EXPECT_EQ(st.message().rfind("lint ", 0), 0u) << st.message();
      if (fatal) {
        EXPECT_NE(st.message().find(c.rule), std::string::npos) << st.message();
      }
    }
    // As a whole certificate: the rule reports it at its severity, with a detail.
    LintReport r = LintDer(kLintCert, CertificateOf(t), o);
    const LintResult* result = ResultOf(r, c.rule);
    ASSERT_NE(result, nullptr);
    EXPECT_EQ(result->status, fatal ? LintStatus::kFatal : rule->severity) << result->detail;
    EXPECT_FALSE(result->detail.empty());
  }
}

TEST(LintTest, EveryRuleHasACaseAndAUniqueName) {
  std::set<std::string> covered, names;
  for (const auto& c : Cases()) covered.insert(c.rule);
  for (const auto& r : LintRules()) {
    EXPECT_TRUE(names.insert(std::string(r.name)).second) << "twice: " << r.name;
    EXPECT_TRUE(covered.count(std::string(r.name))) << "no breaking case for " << r.name;
    EXPECT_FALSE(r.source.empty()) << r.name;
  }
  EXPECT_EQ(covered.size(), names.size());
}

TEST(LintTest, TheReportOfAWholeCertificateHasEveryRuleWithItsStatus) {
  Tbs t;
  const Bytes cert = CertificateOf(t);
  LintOptions o;  // no CA, issuer or profile known: the rules that need them do not apply
  LintReport r = LintDer(kLintCert, cert, o);
  EXPECT_EQ(r.worst, LintStatus::kNe);  // issued in 2023: the SC-081 rules postdate it
  EXPECT_EQ(ResultOf(r, "e_server_cert_valid_time_longer_than_200_days")->status, LintStatus::kNe);
  EXPECT_EQ(r.subject, "CN=host.example.org,O=CertPress,C=DK");
  size_t for_certs = 0;
  for (const auto& rule : LintRules()) for_certs += (rule.applies_to & kLintCert) ? 1 : 0;
  EXPECT_EQ(r.results.size(), for_certs);
  EXPECT_EQ(ResultOf(r, "cp_signature_algorithm_not_ca_key")->status, LintStatus::kNa);
  EXPECT_EQ(ResultOf(r, "e_ext_key_usage_without_bits")->status, LintStatus::kPass);
  // A finding gets the rule's severity: w_ rules warn, e_ rules are errors.
  t.Find("2.5.29.15")->critical = false;
  t.Set("2.5.29.15", false, KeyUsage({0, 5}));
  r = LintDer(kLintCert, CertificateOf(t), o);
  EXPECT_EQ(ResultOf(r, "w_ext_key_usage_not_critical")->status, LintStatus::kWarn);
  EXPECT_EQ(ResultOf(r, "e_ext_key_usage_cert_sign_without_ca")->status, LintStatus::kError);
  EXPECT_EQ(r.worst, LintStatus::kError);
  EXPECT_FALSE(ResultOf(r, "e_ext_key_usage_cert_sign_without_ca")->detail.empty());
}

TEST(LintTest, ARuleIsNotEffectiveForACertificateIssuedBeforeIt) {
  Tbs t;
  t.not_before = 1262304000;  // 2010-01-01: before BR 2.0.0 (2023-09-15)
  t.not_after = t.not_before + 365 * 86400;
  t.Set("2.5.29.31", false, CrlDp("ldap://ldap.example.org/cn=crl"));
  LintReport r = LintDer(kLintCert, CertificateOf(t), LintOptions{});
  EXPECT_EQ(ResultOf(r, "e_crl_distrib_points_not_http")->status, LintStatus::kNe);
  t.not_before = 1700000000;
  t.not_after = t.not_before + 365 * 86400;
  r = LintDer(kLintCert, CertificateOf(t), LintOptions{});
  EXPECT_EQ(ResultOf(r, "e_crl_distrib_points_not_http")->status, LintStatus::kError);
}

TEST(LintTest, OnlyRunsTheNamedRulesAndAnUnreadableInputIsFatal) {
  Tbs t;
  const std::string only[] = {"e_ext_duplicate_extension", "e_ec_improper_curves"};
  LintReport r = LintDer(kLintCert, CertificateOf(t), LintOptions{}, only);
  ASSERT_EQ(r.results.size(), 2u);
  EXPECT_EQ(r.results[0].rule, "e_ext_duplicate_extension");
  const Bytes junk = {0x30, 0x03, 0x02, 0x01};
  r = LintDer(kLintCert, junk, LintOptions{});
  ASSERT_EQ(r.results.size(), 1u);
  EXPECT_EQ(r.results[0].rule, "cp_asn1_structure");
  EXPECT_EQ(r.results[0].status, LintStatus::kFatal);
  EXPECT_EQ(r.worst, LintStatus::kFatal);
}

TEST(LintTest, EveryRuleHasASourceADateOrderAndASeverity) {
  for (const auto& r : LintRules()) {
    SCOPED_TRACE(std::string(r.name));
    const std::string_view prefix = r.name.substr(0, 2);
    EXPECT_TRUE(prefix == "e_" || prefix == "w_" || prefix == "n_" || prefix == "cp") << r.name;
    if (prefix == "e_") {
      EXPECT_EQ(r.severity, LintStatus::kError);
    }
    if (prefix == "w_") {
      EXPECT_EQ(r.severity, LintStatus::kWarn);
    }
    if (prefix == "n_") {
      EXPECT_EQ(r.severity, LintStatus::kNotice);
    }
    EXPECT_TRUE(r.ineffective == 0 || r.ineffective > r.effective);
    EXPECT_NE(r.applies_to, 0);
    EXPECT_EQ(FindLintRule(r.name), &r);
  }
  EXPECT_EQ(LintDate(1700000000), "2023-11-14");
}

TEST(LintTest, InternalNamesAndReservedAddressesPassWhenTheProfileAllowsThem) {
  Tbs t;
  t.SetSans({{2, Str("host.example.org")}, {2, Str("printer.internal")}, {7, Bytes{10, 0, 0, 1}}});
  LintOptions o = DefaultOptions();
  EXPECT_FALSE(LintTbs(t.Encode(), o).ok());
  o.allow_internal_names = true;
  Status st = LintTbs(t.Encode(), o);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(LintTest, TlsOnlyRulesLeaveOtherCertificatesAlone) {
  // A client certificate (no serverAuth) may name an internal host, use an ldap CRL and a
  // CN that is no SAN; RSA keys may do keyEncipherment.
  Tbs t;
  // clientAuth and smart card logon: no serverAuth, and no emailProtection (S/MIME BR).
  t.Set("2.5.29.37", false, EkuValue({"1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.311.20.2.2"}));
  t.SetSans({{2, Str("printer.internal")}, {1, Str("alice@example.org")}});
  t.Set("2.5.29.31", false, CrlDp("ldap://ldap.example.org/cn=crl"));
  t.spki = RsaSpki();
  t.Set("2.5.29.15", true, KeyUsage({0, 2}));
  t.not_after = t.not_before + 730 * 86400;
  LintOptions o = DefaultOptions();
  o.max_validity_days = 730;
  Status st = LintTbs(t.Encode(), o);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST(LintTest, AMalformedExtensionIsReportedAsInvalidDer) {
  Tbs t;
  t.Set("2.5.29.17", false, Bytes{0x30, 0x05, 0x82});
  Status st = LintTbs(t.Encode(), DefaultOptions());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("lint e_cert_ext_invalid_der: ", 0), 0u) << st.message();
}

// Clean lists every finding of |r| (an empty string when there is none).
std::string Findings(const LintReport& r) {
  std::string out;
  for (const auto& x : r.results) {
    if (x.status > LintStatus::kNe) {
      out += std::string(x.rule) + ": " + std::string(LintStatusName(x.status)) + " " + x.detail +
             "; ";
    }
  }
  return out;
}

// A certificate of every shipped certificate profile (profiles/), issued by the issuer (its
// pre-issuance lint included) under a root and a sub-CA made as `ca create-root/create-sub`
// make them, for an EC and an RSA key, lints clean as a whole certificate with the profile's
// own limits. The CLI test LintShippedIT does the same through the real stack for the profiles
// a batch run issues (PIV certificates are issued at a station).
TEST(LintTest, CertificatesOfEveryShippedProfileLintClean) {
  testing::ScopedSoftToken token("cp-lint-shipped");
  auto set = profiles::LoadProfiles(CERTPRESS_SOURCE_DIR "/profiles");
  ASSERT_TRUE(set.ok()) << set.status().message();
  // The root, self-signed, then the sub-CA it signs.
  auto sign = [](const profiles::CertProfile& profile, const CaKey& ca, const TbsInput& in) {
    auto is = Issuer::Create(profile, ca);
    EXPECT_TRUE(is.ok()) << is.status().message();
    auto p = is->Prepare(in);
    EXPECT_TRUE(p.ok()) << profile.name << ": " << p.status().message();
    if (!p.ok()) return Bytes{};
    auto der = testing::SignRecorded(*is, *p);
    EXPECT_TRUE(der.ok()) << der.status().message();
    return der.ok() ? *der : Bytes{};
  };
  const Bytes root_name = *EncodeName(*ParseName("CN=Lint Root,O=CertPress Test,C=DK"));
  const Bytes root_spki = *token->GenerateKey("root", KeyType::kEcP384);
  CaKey root{token.get(), "root", KeyType::kEcP384, root_name, root_spki, 0, 0};
  const Bytes root_der = sign(profiles::RootCaProfile(3650), root, {root_name, root_spki, {}, 0});
  root.not_after = ParseCertificate(root_der)->not_after;
  const Bytes sub_name = *EncodeName(*ParseName("CN=Lint Issuing CA,O=CertPress Test,C=DK"));
  const Bytes sub_spki = *token->GenerateKey("sub", KeyType::kEcP256);
  const Bytes sub_der = sign(profiles::SubCaProfile(1825, 0), root, {sub_name, sub_spki, {}, 0});
  CaKey sub{token.get(),
            "sub",
            KeyType::kEcP256,
            sub_name,
            sub_spki,
            0,
            ParseCertificate(sub_der)->not_after};
  for (const Bytes* ca : {&root_der, &sub_der}) {
    LintReport r = LintDer(kLintCert, *ca, LintOptions{});
    EXPECT_EQ(Findings(r), "") << r.subject;
  }
  ASSERT_GE(set->certificates.size(), 5u);
  for (const auto& [name, profile] : set->certificates) {
    for (KeyType type : {KeyType::kEcP256, KeyType::kRsa2048}) {
      SCOPED_TRACE(name + " " + std::string(KeyTypeName(type)));
      const bool tls = profile.AllowsSan(profiles::SanType::kDns);
      TbsInput in;
      in.subject_der =
          *EncodeName(*ParseName(tls ? "CN=www.example.org,O=CertPress Demo,C=DK"
                                     : "CN=Ada Lovelace,OU=Research,O=CertPress Demo,C=DK"));
      in.spki = *SpkiDer(GenerateSoftKey(type)->get());
      for (auto [kind, value] : std::initializer_list<std::pair<profiles::SanType, const char*>>{
               {profiles::SanType::kEmail, "ada@example.org"},
               {profiles::SanType::kUpn, "ada@example.org"},
               {profiles::SanType::kDns, "www.example.org"},
               {profiles::SanType::kIp, "93.184.216.34"}}) {
        if (profile.AllowsSan(kind)) in.sans.push_back({kind, value});
      }
      const Bytes der = sign(profile, sub, in);
      ASSERT_FALSE(der.empty());
      auto options = LintOptionsForProfiles({&profile}, LintOptions{});
      ASSERT_TRUE(options.ok());
      LintReport r = LintDer(kLintCert, der, *options);
      EXPECT_EQ(Findings(r), "");
      EXPECT_EQ(ResultOf(r, "cp_eku_not_profile")->status, LintStatus::kPass);
      EXPECT_EQ(ResultOf(r, "cp_validity_longer_than_profile")->status, LintStatus::kPass);
    }
  }
}

// `certpress lint` reads certificates from anywhere: every truncation and many one-octet
// changes of well-formed inputs are read without reading past them (ASan in scripts/test) and
// give either one fatal result or every rule's result, never an empty report.
TEST(LintTest, TruncatedAndChangedInputsGiveAFatalResultOrAFullReport) {
  Tbs tls, smime, ca, rsa;
  smime.MakeSmime();
  ca.MakeCa();
  rsa.spki = RsaSpki();
  std::vector<std::pair<LintTarget, Bytes>> inputs;
  for (const Tbs* t : {&tls, &smime, &ca, &rsa}) inputs.push_back({kLintCert, CertificateOf(*t)});
  // A request: subject, key and an extensionRequest with the SAN (RFC 2986 4.1, RFC 2985 5.4.2).
  inputs.push_back({kLintCsr, Seq([&](der::Writer& w) {
                      size_t info = w.Begin(der::kSequence);
                      w.SmallInteger(0);
                      w.Raw(tls.subject);
                      w.Raw(tls.spki);
                      size_t attrs = w.Begin(der::ContextConstructed(0));
                      size_t attr = w.Begin(der::kSequence);
                      w.OidContent(Oid("1.2.840.113549.1.9.14"));
                      size_t set = w.Begin(der::kSet);
                      size_t exts = w.Begin(der::kSequence);
                      size_t ext = w.Begin(der::kSequence);
                      w.OidContent(Oid("2.5.29.17"));
                      w.Primitive(der::kOctetString, tls.Find("2.5.29.17")->value);
                      w.End(ext);
                      w.End(exts);
                      w.End(set);
                      w.End(attr);
                      w.End(attrs);
                      w.End(info);
                      size_t alg = w.Begin(der::kSequence);
                      w.OidContent(Oid("1.2.840.10045.4.3.2"));
                      w.End(alg);
                      w.BitString(Bytes(8, 0x5a));
                    })});
  size_t runs = 0;
  auto check = [&](LintTarget kind, const Bytes& in) {
    ++runs;
    LintReport r = LintDer(kind, in, LintOptions{});
    ASSERT_FALSE(r.results.empty());
    // A fatal result means the input did not parse, and then it is the only result.
    if (r.worst == LintStatus::kFatal) {
      EXPECT_EQ(r.results.size(), 1u);
    }
    (void)LintTbs(in, LintOptions{});
  };
  for (const auto& [kind, der] : inputs) {
    LintReport whole = LintDer(kind, der, LintOptions{});
    EXPECT_EQ(Findings(whole), "") << (kind == kLintCsr ? "request" : "certificate");
    for (size_t n = 0; n < der.size(); ++n) check(kind, Bytes(der.begin(), der.begin() + n));
    for (size_t i = 0; i < der.size(); ++i) {
      for (uint8_t v : {uint8_t{0x00}, uint8_t{0x80}, uint8_t{0xff}, uint8_t(der[i] ^ 0x01)}) {
        Bytes changed = der;
        changed[i] = v;
        check(kind, changed);
      }
    }
  }
  EXPECT_GT(runs, 10000u);
}

TEST(LintTest, InternalDnsNames) {
  for (const char* n : {"intranet", "localhost", "a.localhost", "printer.local", "x.internal",
                        "nas.home.arpa", "db.corp", "HOST.LAN"}) {
    EXPECT_TRUE(IsInternalDnsName(n)) << n;
  }
  for (const char* n : {"www.example.org", "example.com", "home.example.net", "corp.example.org"}) {
    EXPECT_FALSE(IsInternalDnsName(n)) << n;
  }
}

}  // namespace
}  // namespace certpress
