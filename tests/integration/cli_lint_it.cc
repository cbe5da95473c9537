// `certpress lint` through the binary: every rule on a certificate that breaks it and on one
// that passes (tests/support/lint_certs.h, written with our DER writer), certificates and
// requests made by OpenSSL (PEM and DER), the JSON shape and exit codes the issue fixes, bad
// usage, --list and --profile; and a certificate of each shipped profile, issued through the
// real stack, linting clean.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/bytes.h"
#include "signer/cert_info.h"
#include "signer/lint.h"
#include "tests/support/lint_certs.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

namespace fs = std::filesystem;
using certpress::testing::Case;
using certpress::testing::Cases;
using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::Tbs;
using certpress::testing::TestDb;
using certpress::testing::TestToken;
using json = nlohmann::json;

// The rules that need what only the issuer knows (the CA key, the issuer's certificate): they
// do not apply to a certificate given to the command.
const std::set<std::string> kIssuanceOnly = {"cp_signature_algorithm_not_ca_key",
                                             "cp_validity_outside_issuer", "cp_aki_not_issuer_ski"};
// The rules of a profile's limits: tested with --profile below.
const std::set<std::string> kProfileRules = {"cp_validity_longer_than_profile",
                                             "cp_eku_not_profile"};

// Statuses that are no finding.
bool Clean(const std::string& status) {
  return status == "pass" || status == "na" || status == "ne";
}

std::string StatusOf(const json& item, const std::string& rule) {
  for (const auto& r : item["results"]) {
    if (r["rule"] == rule) return r["status"];
  }
  return "(absent)";
}

// Findings lists every result of |item| that is not clean, for messages.
std::string Findings(const json& item) {
  std::string out;
  for (const auto& r : item["results"]) {
    if (!Clean(r["status"])) {
      out += r["rule"].get<std::string>() + "=" + r["status"].get<std::string>() + " (" +
             r["detail"].get<std::string>() + "); ";
    }
  }
  return out;
}

class LintCliIT : public ::testing::Test {
 protected:
  LintCliIT() {
    std::string tmpl = (fs::temp_directory_path() / "cp-lint-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~LintCliIT() override { fs::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Lint runs `certpress lint ARGS`; it needs no database and no token.
  RunResult Lint(const std::vector<std::string>& args) const {
    std::string cmd = Quote(CERTPRESS_BIN) + " lint";
    for (const auto& a : args) cmd += " " + Quote(a);
    return Sh(cmd);
  }

  // WritePem writes a certificate as PEM and returns its path.
  std::string WritePem(const std::string& name, const Bytes& der) const {
    EXPECT_TRUE(WriteFile(Path(name), ToPem(der)).ok());
    return Path(name);
  }

  std::string WriteCert(const std::string& name, const Tbs& t) const {
    return WritePem(name, certpress::testing::CertificateOf(t));
  }

  RunResult Openssl(const std::string& args) const {
    return Sh("cd " + Quote(dir_) + " && openssl " + args);
  }

  // OpensslLeaf signs a P-256 leaf for CN=www.example.org with an OpenSSL CA (made on first
  // use), the extensions in |ext| (an openssl x509 -extfile) and |days|.
  std::string OpensslLeaf(const std::string& name, const std::string& ext, int days) const {
    if (!fs::exists(Path("ca.pem"))) {
      auto ca = Openssl(
          "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out "
          "ca.pem -days 3650 -subj '/C=DK/O=Lint Test/CN=Lint Test CA' "
          "-addext basicConstraints=critical,CA:TRUE -addext "
          "keyUsage=critical,keyCertSign,cRLSign");
      EXPECT_EQ(ca.exit_code, 0) << ca.err;
    }
    EXPECT_TRUE(WriteFile(Path(name + ".cnf"), ext).ok());
    auto csr =
        Openssl("req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
                ".key -out " + name + ".csr -subj '/C=DK/O=Lint Test/CN=www.example.org'");
    EXPECT_EQ(csr.exit_code, 0) << csr.err;
    auto sign = Openssl("x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial " +
                        "-days " + std::to_string(days) + " -sha256 -extfile " + name +
                        ".cnf -out " + name + ".pem");
    EXPECT_EQ(sign.exit_code, 0) << sign.err;
    return Path(name + ".pem");
  }

  std::string dir_;
};

TEST_F(LintCliIT, EveryRuleFlagsTheCertificateThatBreaksItAndPassesTheGoodOne) {
  std::vector<std::string> args = {"--json", WriteCert("good.pem", Tbs{})};
  std::vector<const Case*> run;
  for (const auto& c : Cases()) {
    if (kIssuanceOnly.count(c.rule) || kProfileRules.count(c.rule)) continue;
    Tbs t;
    LintOptions unused;
    c.breaks(t, unused);
    args.push_back(WriteCert(std::string(c.rule) + ".pem", t));
    run.push_back(&c);
  }
  auto r = Lint(args);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  json all = json::parse(r.out);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), run.size() + 1);
  // The good certificate: no rule finds anything.
  EXPECT_EQ(all[0]["file"], args[1]);
  EXPECT_EQ(all[0]["index"], 0);
  EXPECT_EQ(all[0]["subject"], "CN=host.example.org,O=CertPress,C=DK");
  EXPECT_EQ(Findings(all[0]), "");
  for (const auto& r : all[0]["results"]) {
    SCOPED_TRACE(r.dump());
    if (kIssuanceOnly.count(r["rule"]) || kProfileRules.count(r["rule"])) {
      EXPECT_EQ(r["status"], "na");
    }
  }
  for (size_t i = 0; i < run.size(); ++i) {
    const std::string rule = run[i]->rule;
    SCOPED_TRACE(rule);
    const json& item = all[i + 1];
    EXPECT_EQ(item["file"], Path(rule + ".pem"));
    const LintRule* def = FindLintRule(rule);
    ASSERT_NE(def, nullptr);
    const bool fatal = rule == "cp_asn1_structure" || rule == "e_cert_ext_invalid_der";
    const std::string want(fatal ? "fatal" : LintStatusName(def->severity));
    EXPECT_EQ(StatusOf(item, rule), want) << item.dump();
    for (const auto& res : item["results"]) {
      if (res["rule"] == rule && !fatal) {
        EXPECT_FALSE(res["detail"].get<std::string>().empty());
      }
    }
  }
}

TEST_F(LintCliIT, CertificatesMadeByOpenSslAreLinted) {
  const std::string good = OpensslLeaf("good",
                                       "basicConstraints=critical,CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature\n"
                                       "extendedKeyUsage=serverAuth\n"
                                       "subjectAltName=DNS:www.example.org\n"
                                       "subjectKeyIdentifier=hash\n"
                                       "authorityKeyIdentifier=keyid\n"
                                       "authorityInfoAccess=caIssuers;URI:http://pki.example.org/"
                                       "ca.crt\n"
                                       "crlDistributionPoints=URI:http://pki.example.org/ca.crl\n",
                                       90);
  auto ok = Lint({good, Path("ca.pem")});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find(good + "#0 certificate: CN=www.example.org,O=Lint Test,C=DK"),
            std::string::npos)
      << ok.out;
  EXPECT_NE(ok.out.find("  pass    e_ecdsa_allowed_ku\n"), std::string::npos) << ok.out;
  // keyEncipherment for an EC key, an underscore in a host name, 400 days for TLS.
  const std::string bad =
      OpensslLeaf("bad",
                  "keyUsage=critical,digitalSignature,keyEncipherment\n"
                  "extendedKeyUsage=serverAuth\n"
                  "subjectAltName=DNS:www.example.org,DNS:bad_name.example.org\n"
                  "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
                  400);
  auto der = Openssl("x509 -in bad.pem -outform der -out bad.der");
  ASSERT_EQ(der.exit_code, 0) << der.err;
  for (const std::string& file : {bad, Path("bad.der")}) {
    SCOPED_TRACE(file);
    auto r = Lint({"--json", file});
    EXPECT_EQ(r.exit_code, 1);
    json item = json::parse(r.out);
    ASSERT_TRUE(item.is_object()) << r.out;  // one certificate: one object
    EXPECT_EQ(StatusOf(item, "e_ecdsa_allowed_ku"), "error");
    EXPECT_EQ(StatusOf(item, "e_dnsname_bad_character_in_label"), "error");
    EXPECT_EQ(StatusOf(item, "e_tls_server_cert_valid_time_longer_than_398_days"), "error");
    EXPECT_EQ(StatusOf(item, "e_subject_common_name_not_exactly_from_san"), "pass");
  }
  // Text: the finding's line carries its detail; stderr counts the failed certificates.
  auto text = Lint({good, bad});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("  error   e_ecdsa_allowed_ku: an EC key cannot do keyEncipherment"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.err.find("1 of 2 certificate(s) or request(s) have an error"), std::string::npos)
      << text.err;
}

TEST_F(LintCliIT, RequestsGetTheRulesForRequests) {
  auto good = Openssl(
      "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout r.key -out good.csr "
      "-subj /CN=www.example.org -addext subjectAltName=DNS:www.example.org");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  auto bad = Openssl(
      "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout r2.key -out bad.csr "
      "-subj /CN=www.example.org -addext subjectAltName=DNS:www..example.org");
  ASSERT_EQ(bad.exit_code, 0) << bad.err;
  auto ok = Lint({"--json", Path("good.csr")});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  json item = json::parse(ok.out);
  EXPECT_EQ(item["subject"], "CN=www.example.org");
  EXPECT_EQ(Findings(item), "");
  // Certificate-only rules are not reported for a request.
  EXPECT_EQ(StatusOf(item, "e_serial_number_not_positive"), "(absent)");
  EXPECT_EQ(StatusOf(item, "e_ec_improper_curves"), "pass");
  // A bundle of a certificate and a request: two items, an array.
  auto cat = Sh("cat " + Quote(Path("bad.csr")) + " " + Quote(WriteCert("c.pem", Tbs{})) + " > " +
                Quote(Path("bundle.pem")));
  ASSERT_EQ(cat.exit_code, 0);
  auto r = Lint({"--json", Path("bundle.pem")});
  EXPECT_EQ(r.exit_code, 1);
  json all = json::parse(r.out);
  ASSERT_TRUE(all.is_array());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0]["index"], 0);
  EXPECT_EQ(all[1]["index"], 1);
  EXPECT_EQ(StatusOf(all[0], "e_dnsname_empty_label"), "error");
  EXPECT_EQ(Findings(all[1]), "");
  // A DER request is told from a DER certificate by its structure.
  auto der = Openssl("req -in bad.csr -outform der -out bad.csr.der");
  ASSERT_EQ(der.exit_code, 0) << der.err;
  auto d = Lint({"--json", Path("bad.csr.der")});
  EXPECT_EQ(d.exit_code, 1);
  EXPECT_EQ(StatusOf(json::parse(d.out), "e_dnsname_empty_label"), "error") << d.out;
}

TEST_F(LintCliIT, BadUsageExitsTwoAndNamesWhatIsWrong) {
  const std::string good = WriteCert("good.pem", Tbs{});
  auto unknown = Lint({"--only", "e_ext_duplicate_extension,e_no_such_rule", good});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("no rule 'e_no_such_rule'"), std::string::npos) << unknown.err;
  auto missing = Lint({good, Path("missing.pem")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find(Path("missing.pem")), std::string::npos) << missing.err;
  EXPECT_EQ(Lint({}).exit_code, 2);
  auto profile = Lint({"--profile", "no-such-profile", good});
  EXPECT_EQ(profile.exit_code, 2);
  EXPECT_NE(profile.err.find("no-such-profile"), std::string::npos) << profile.err;
  // Content that is no certificate is a fatal result for that file; the others are linted.
  ASSERT_TRUE(WriteFile(Path("junk.pem"), "hello\n").ok());
  auto junk = Lint({"--json", good, Path("junk.pem")});
  EXPECT_EQ(junk.exit_code, 1);
  json all = json::parse(junk.out);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(Findings(all[0]), "");
  EXPECT_EQ(StatusOf(all[1], "cp_asn1_structure"), "fatal");
  // --only runs just those rules.
  auto only = Lint({"--json", "--only", "e_ext_duplicate_extension,e_ec_improper_curves", good});
  EXPECT_EQ(only.exit_code, 0);
  EXPECT_EQ(json::parse(only.out)["results"].size(), 2u) << only.out;
}

TEST_F(LintCliIT, ListShowsEveryRuleWithItsSourceAndDate) {
  auto r = Lint({"--list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json rules = json::parse(r.out);
  ASSERT_EQ(rules.size(), LintRules().size());
  for (const auto& rule : rules) {
    EXPECT_FALSE(rule["source"].get<std::string>().empty()) << rule.dump();
    EXPECT_TRUE(rule.contains("effective")) << rule.dump();
  }
  auto text = Lint({"--list"});
  ASSERT_EQ(text.exit_code, 0);
  for (const auto& rule : LintRules()) {
    EXPECT_NE(text.out.find(std::string(rule.name) + " "), std::string::npos) << rule.name;
  }
  EXPECT_NE(text.out.find("e_ecdsa_allowed_ku"), std::string::npos);
  EXPECT_NE(text.out.find("2020-08-01"), std::string::npos) << text.out;  // RFC 8813's date
}

TEST_F(LintCliIT, AProfileAddsItsOwnLimits) {
  Tbs fits;  // a TLS server certificate of 90 days
  fits.not_after = fits.not_before + 90 * 86400;
  const std::string good = WriteCert("fits.pem", fits);
  Tbs client;  // a client certificate of 500 days
  client.Set("2.5.29.37", false, certpress::testing::EkuValue({"1.3.6.1.5.5.7.3.2"}));
  client.not_after = client.not_before + 500 * 86400;
  const std::string other = WriteCert("client.pem", client);
  auto r = Lint({"--json", "--profile", "tls-server", good, other});
  EXPECT_EQ(r.exit_code, 1);
  json all = json::parse(r.out);
  EXPECT_EQ(Findings(all[0]), "");
  EXPECT_EQ(StatusOf(all[0], "cp_validity_longer_than_profile"), "pass");
  EXPECT_EQ(StatusOf(all[0], "cp_eku_not_profile"), "pass");
  EXPECT_EQ(StatusOf(all[1], "cp_validity_longer_than_profile"), "error");
  EXPECT_EQ(StatusOf(all[1], "cp_eku_not_profile"), "error");
  // Without --profile neither applies, and the client certificate has no finding.
  auto plain = Lint({"--json", other});
  EXPECT_EQ(plain.exit_code, 0) << plain.out;
  EXPECT_EQ(StatusOf(json::parse(plain.out), "cp_eku_not_profile"), "na");
  // A card profile with several keys: the certificate follows one of their profiles.
  Tbs signature;
  signature.Set("2.5.29.37", false, certpress::testing::EkuValue({"1.3.6.1.5.5.7.3.4"}));
  signature.Set("2.5.29.15", true, certpress::testing::KeyUsage({0, 1}));
  signature.SetSans({{1, certpress::testing::Str("ada@example.org")}});
  signature.subject = *EncodeName(*ParseName("CN=Ada Lovelace,O=CertPress,C=DK"));
  auto piv = Lint({"--json", "--profile", "employee-piv", WriteCert("sig.pem", signature)});
  EXPECT_EQ(StatusOf(json::parse(piv.out), "cp_eku_not_profile"), "pass") << piv.out;
}

// A certificate of each shipped profile, issued by the real stack (MariaDB, SoftHSM2), lints
// clean, with and without its profile's limits: the employee soft certificate, the TLS server
// certificate, the CA certificates and an operator's certificate. (PIV certificates are issued
// at a personalization station, not by a batch run; LintTest.CertificatesOfEveryShippedProfile-
// LintClean issues every certificate profile, the PIV ones included, through the issuer.)
class LintShippedIT : public ::testing::Test {
 protected:
  LintShippedIT() : cli_(db_, token_) {}
  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

TEST_F(LintShippedIT, CertificatesOfTheShippedProfilesLintClean) {
  auto root = Run({"ca", "create-root", "--label", "root", "--name",
                   "CN=Lint Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p384"});
  ASSERT_EQ(root.exit_code, 0) << root.err;
  ASSERT_TRUE(WriteFile(Path("root.pem"), root.out).ok());
  auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                  "CN=Lint Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  ASSERT_EQ(sub.exit_code, 0) << sub.err;
  ASSERT_TRUE(WriteFile(Path("sub.pem"), sub.out).ok());
  ASSERT_TRUE(WriteFile(Path("e.csv"),
                        "given_name,surname,email,employee_id,department,country\n"
                        "Ada,Lovelace,ada@example.org,E000001,R&D,DK\n")
                  .ok());
  auto imp = Run({"import", Path("e.csv"), "--profile", "employee-soft", "--ca", "issuing"});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  auto gen = Sh("cd " + Quote(cli_.dir()) +
                " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout tls.key -out tls.csr -subj /CN=www.example.org "
                "-addext subjectAltName=DNS:www.example.org,DNS:api.example.org");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  auto csr = Run({"request", "submit", "--csr", Path("tls.csr"), "--profile", "tls-server", "--ca",
                  "issuing"});
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  for (const char* profile : {"employee-soft", "tls-server"}) {
    auto ok = cli_.Decide({"approve", "--all", "--profile", profile}, "alice");
    ASSERT_EQ(ok.exit_code, 0) << ok.err;
  }
  auto run = Run({"run-batch"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* profile : {"employee-soft", "tls-server"}) {
    auto exp = Run({"cert", "export", "--all", "--profile", profile, "--out-dir",
                    Path(std::string("certs-") + profile)});
    ASSERT_EQ(exp.exit_code, 0) << exp.err;
    std::vector<std::string> files;
    for (const auto& f : fs::directory_iterator(Path(std::string("certs-") + profile))) {
      files.push_back(f.path().string());
    }
    ASSERT_EQ(files.size(), 1u) << profile;
    for (bool with_profile : {false, true}) {
      SCOPED_TRACE(std::string(profile) + (with_profile ? " with --profile" : ""));
      std::vector<std::string> args = {"lint", "--json", files[0]};
      if (with_profile) args.insert(args.end(), {"--profile", profile});
      auto lint = Run(args);
      EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
      json item = json::parse(lint.out);
      EXPECT_EQ(Findings(item), "");
      if (with_profile) {
        EXPECT_EQ(StatusOf(item, "cp_eku_not_profile"), "pass");
      }
    }
  }
  // The CA certificates and an operator's certificate.
  ASSERT_TRUE(WriteFile(Path("linter.pw"), "linter-password\n", 0600).ok());
  auto op = Run({"operator", "enroll", "linter", "--key-out", Path("linter.key"), "--password-file",
                 Path("linter.pw"), "--cert-out", Path("linter.pem")});
  ASSERT_EQ(op.exit_code, 0) << op.err;
  auto lint = Run({"lint", "--json", Path("root.pem"), Path("sub.pem"), Path("linter.pem")});
  EXPECT_EQ(lint.exit_code, 0) << lint.out << lint.err;
  json all = json::parse(lint.out);
  ASSERT_EQ(all.size(), 3u);
  for (const auto& item : all) EXPECT_EQ(Findings(item), "") << item["file"];
  // The root is self-signed: no AKI is expected of it.
  EXPECT_EQ(StatusOf(all[0], "e_ext_authority_key_identifier_no_key_identifier"), "na");
}

}  // namespace
}  // namespace certpress
