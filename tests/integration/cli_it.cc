// End-to-end tests of the certpress binary against the real stack, checked with OpenSSL,
// GnuTLS certtool and OpenSC pkcs11-tool.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "store/schema.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using certpress::testing::Cli;
using certpress::testing::ListPrivateKeys;
using certpress::testing::Occurrences;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

class CliIT : public ::testing::Test {
 protected:
  CliIT() : cli_(db_, token_) {}

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  void MakeHierarchy() {
    auto root =
        Run({"ca", "create-root", "--label", "root", "--name", "CN=Test Root,O=CertPress Test,C=DK",
             "--key-type", "ec-p384", "--days", "3650"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    ASSERT_TRUE(WriteFile(Path("root.pem"), root.out).ok());
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256", "--days",
                    "1825"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    ASSERT_TRUE(WriteFile(Path("sub.pem"), sub.out).ok());
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

TEST_F(CliIT, HierarchyPassesOpenSslStrictAndCerttool) {
  MakeHierarchy();
  auto v = Sh("openssl verify -x509_strict -CAfile " + Quote(Path("root.pem")) + " " +
              Quote(Path("sub.pem")));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find(": OK"), std::string::npos);
  auto chain = Run({"ca", "export", "issuing", "--chain", "--out", Path("chain.pem")});
  ASSERT_EQ(chain.exit_code, 0) << chain.err;
  auto g = Sh("certtool --verify-chain --infile " + Quote(Path("chain.pem")));
  EXPECT_EQ(g.exit_code, 0) << g.out << g.err;
  EXPECT_NE(g.out.find("Chain verification output: Verified."), std::string::npos) << g.out;
  // The root is self-signed with the profile RFC 5280 wants for a CA.
  auto text = Sh("openssl x509 -noout -text -in " + Quote(Path("sub.pem")));
  EXPECT_NE(text.out.find("CA:TRUE, pathlen:0"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Certificate Sign, CRL Sign"), std::string::npos);
  EXPECT_NE(text.out.find("ecdsa-with-SHA384"), std::string::npos);
}

TEST_F(CliIT, CaPrivateKeysReportNeverExtractable) {
  MakeHierarchy();
  auto r = ListPrivateKeys(token_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The two CAs' keys, and the audit signing key the commands' checkpoints made.
  EXPECT_EQ(Occurrences(r.out, "never extractable"), 3u) << r.out;
  EXPECT_NE(r.out.find("label:      certpress-audit"), std::string::npos) << r.out;
}

TEST_F(CliIT, ListJsonAndAuditTrail) {
  MakeHierarchy();
  auto list = Run({"ca", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto j = nlohmann::json::parse(list.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["label"], "root");
  EXPECT_EQ(j[0]["parent"], nullptr);
  EXPECT_EQ(j[1]["label"], "issuing");
  EXPECT_EQ(j[1]["parent"], "root");
  EXPECT_EQ(j[1]["status"], "active");
  EXPECT_EQ(j[1]["key_uri"], "pkcs11:token=" + token_.label() + ";object=issuing;type=private");
  auto audit = Run({"audit", "verify", "--json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  auto a = nlohmann::json::parse(audit.out);
  EXPECT_EQ(a["intact"], true);
  // The audit key's creation (the chain's first keyed entry), the root CA, the audit signing
  // key's creation (the first command's checkpoint made it), then the issuing CA.
  EXPECT_EQ(a["entries"], 4);
  EXPECT_GE(a["checkpoints"].get<int>(), 2);
  EXPECT_EQ(a["keyed"], true);
}

TEST_F(CliIT, OfflineRootSignsTheCsrWithPlainOpenSsl) {
  // An offline root made with openssl alone.
  std::string root_key = Path("offline.key"), root_pem = Path("offline.pem");
  auto mk = Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout " +
               Quote(root_key) + " -out " + Quote(root_pem) +
               " -days 3650 -subj '/C=DK/O=Offline/CN=Offline Root' "
               "-addext basicConstraints=critical,CA:TRUE "
               "-addext keyUsage=critical,keyCertSign,cRLSign");
  ASSERT_EQ(mk.exit_code, 0) << mk.err;
  auto csr = Run({"ca", "create-sub", "--label", "sub-offline", "--name",
                  "CN=Offline Issued Sub,O=CertPress Test,C=DK", "--key-type", "ec-p256",
                  "--csr-out", Path("sub.csr")});
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  auto verify_csr = Sh("openssl req -in " + Quote(Path("sub.csr")) + " -noout -verify");
  EXPECT_EQ(verify_csr.exit_code, 0) << verify_csr.err;
  // Before the certificate arrives the CA cannot sign.
  auto pending = Run({"ca", "create-sub", "--parent", "sub-offline", "--label", "x", "--name",
                      "CN=x", "--key-type", "ec-p256"});
  EXPECT_EQ(pending.exit_code, 1);
  EXPECT_NE(pending.err.find("not active"), std::string::npos) << pending.err;

  ASSERT_TRUE(WriteFile(Path("ext.cnf"),
                        "basicConstraints=critical,CA:TRUE,pathlen:1\n"
                        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature\n"
                        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
                  .ok());
  auto sign = Sh("openssl x509 -req -in " + Quote(Path("sub.csr")) + " -CA " + Quote(root_pem) +
                 " -CAkey " + Quote(root_key) + " -CAcreateserial -days 1000 -sha384 -extfile " +
                 Quote(Path("ext.cnf")) + " -out " + Quote(Path("sub.pem")));
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  // Without the root in the file the import cannot check the chain.
  auto no_chain = Run({"ca", "import-cert", "--label", "sub-offline", Path("sub.pem")});
  EXPECT_EQ(no_chain.exit_code, 1);
  EXPECT_NE(no_chain.err.find("chain does not verify"), std::string::npos) << no_chain.err;
  auto cat = Sh("cat " + Quote(Path("sub.pem")) + " " + Quote(root_pem) + " > " +
                Quote(Path("bundle.pem")));
  ASSERT_EQ(cat.exit_code, 0);
  auto imp = Run({"ca", "import-cert", "--label", "sub-offline", Path("bundle.pem")});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  // The imported sub-CA now signs online.
  auto leaf =
      Run({"ca", "create-sub", "--parent", "sub-offline", "--label", "sub-2", "--name",
           "CN=Second Level,O=CertPress Test,C=DK", "--key-type", "ec-p256", "--path-len", "-1"});
  ASSERT_EQ(leaf.exit_code, 0) << leaf.err;
  auto exp = Run({"ca", "export", "sub-2", "--chain", "--out", Path("chain2.pem")});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  auto g = Sh("certtool --verify-chain --infile " + Quote(Path("chain2.pem")));
  EXPECT_NE(g.out.find("Verified."), std::string::npos) << g.out << g.err;
  auto v = Sh("openssl verify -x509_strict -CAfile " + Quote(root_pem) + " -untrusted " +
              Quote(Path("sub.pem")) + " " + Quote(Path("chain2.pem")));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

// A profile names the CAs that may sign for it: --ca chooses among them and never a root, for
// CSV imports and CSR submissions alike, and the error names profile and CA.
TEST_F(CliIT, ImportAndSubmitRefuseARootAndACaTheProfileDoesNotList) {
  MakeHierarchy();
  auto other = Run({"ca", "create-sub", "--parent", "root", "--label", "other", "--name",
                    "CN=Other Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  const std::string csv = Path("e.csv");
  ASSERT_TRUE(WriteFile(csv,
                        "given_name,surname,email,employee_id,department,country\n"
                        "Ada,Lovelace,ada@example.org,E000001,R&D,DK\n")
                  .ok());
  auto gen = Sh("cd " + Quote(cli_.dir()) +
                " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                "-keyout tls.key -out tls.csr -subj /CN=www.example.org");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  // The root and a CA outside the profile's list, by import and by submit.
  for (const char* ca : {"root", "other"}) {
    SCOPED_TRACE(ca);
    const std::string want = std::string("CA '") + ca + "' may not sign for profile ";
    auto imp = Run({"import", csv, "--profile", "employee-soft", "--ca", ca});
    EXPECT_EQ(imp.exit_code, 1) << imp.out;
    EXPECT_NE(imp.err.find(want + "'employee-soft' (allowed: demo-issuing, issuing, slow)"),
              std::string::npos)
        << imp.err;
    auto sub =
        Run({"request", "submit", "--csr", Path("tls.csr"), "--profile", "tls-server", "--ca", ca});
    EXPECT_EQ(sub.exit_code, 1) << sub.out;
    EXPECT_NE(sub.err.find(want + "'tls-server'"), std::string::npos) << sub.err;
  }
  // A profile that lists the root still never has it sign end-entity certificates.
  const std::string dir = Path("root-profiles");
  certpress::testing::CopyTestProfiles(dir);
  for (const char* file : {"/employee-soft.toml", "/tls-server.toml"}) {
    auto edit = Sh("sed -i 's/\"demo-issuing\", \"issuing\"/\"demo-issuing\", \"root\"/' " +
                   Quote(dir + file));
    ASSERT_EQ(edit.exit_code, 0) << edit.err;
  }
  auto imp =
      Run({"import", csv, "--profile", "employee-soft", "--ca", "root", "--profiles.dir", dir});
  EXPECT_EQ(imp.exit_code, 1);
  EXPECT_NE(imp.err.find("CA 'root' is a root CA; it does not sign end-entity certificates of "
                         "profile 'employee-soft'"),
            std::string::npos)
      << imp.err;
  auto sub = Run({"request", "submit", "--csr", Path("tls.csr"), "--profile", "tls-server", "--ca",
                  "root", "--profiles.dir", dir});
  EXPECT_EQ(sub.exit_code, 1);
  EXPECT_NE(sub.err.find("CA 'root' is a root CA"), std::string::npos) << sub.err;
  // The profile's own CA still takes the same input.
  auto good = Run({"import", csv, "--profile", "employee-soft", "--ca", "issuing"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_NE(good.out.find("1 created"), std::string::npos) << good.out;
}

// RFC 5280 4.2.1.9: a CA whose pathLenConstraint allows no CA below it (or whose issuers'
// constraints are used up) refuses create-sub; its leaves would fail every verifier.
TEST_F(CliIT, CreateSubUnderAnExhaustedPathLengthIsRefused) {
  MakeHierarchy();  // issuing has pathLenConstraint 0 (the default)
  auto r = Run({"ca", "create-sub", "--parent", "issuing", "--label", "third", "--name",
                "CN=Third Level,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("CA 'issuing' may not have a sub-CA: CA 'issuing' has pathLenConstraint 0"),
            std::string::npos)
      << r.err;
  // A grandparent's constraint counts too, and a child may not promise more than it allows.
  auto mid = Run({"ca", "create-sub", "--parent", "root", "--label", "mid", "--name",
                  "CN=Mid,O=CertPress Test,C=DK", "--key-type", "ec-p256", "--path-len", "1"});
  ASSERT_EQ(mid.exit_code, 0) << mid.err;
  auto greedy =
      Run({"ca", "create-sub", "--parent", "mid", "--label", "greedy", "--name",
           "CN=Greedy,O=CertPress Test,C=DK", "--key-type", "ec-p256", "--path-len", "-1"});
  EXPECT_EQ(greedy.exit_code, 0) << greedy.err;  // no constraint of its own: mid's still holds
  auto below = Run({"ca", "create-sub", "--parent", "greedy", "--label", "below", "--name",
                    "CN=Below,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
  EXPECT_EQ(below.exit_code, 1);
  EXPECT_NE(below.err.find("its issuer 'CN=Mid,O=CertPress Test,C=DK' has pathLenConstraint 1"),
            std::string::npos)
      << below.err;
  auto promise =
      Run({"ca", "create-sub", "--parent", "mid", "--label", "promise", "--name",
           "CN=Promise,O=CertPress Test,C=DK", "--key-type", "ec-p256", "--path-len", "1"});
  EXPECT_EQ(promise.exit_code, 1);
  EXPECT_NE(promise.err.find("--path-len 1 is more than CA 'mid' and its issuers allow"),
            std::string::npos)
      << promise.err;
  auto list = Run({"ca", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 4u);  // root, issuing, mid, greedy
}

// A build newer than its database says so and what to do, instead of failing on a missing
// index or column; `db migrate` brings the schema up and the command works again.
TEST_F(CliIT, OlderSchemaIsRefusedUntilMigrated) {
  auto conn = db_.Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(store::Sql(*conn)
                  .Exec("DELETE FROM schema_migrations WHERE version = ?",
                        {int64_t{store::LatestSchemaVersion()}})
                  .ok());
  auto old = Run({"status"});
  EXPECT_EQ(old.exit_code, 1) << old.out << old.err;
  EXPECT_NE(old.err.find("run `certpress db migrate`"), std::string::npos) << old.err;
  auto batch = Run({"run-batch"});
  EXPECT_EQ(batch.exit_code, 1) << batch.err;
  EXPECT_NE(batch.err.find("run `certpress db migrate`"), std::string::npos) << batch.err;
  auto migrate = Run({"db", "migrate"});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  EXPECT_NE(migrate.out.find("1 migration(s) applied"), std::string::npos) << migrate.out;
  EXPECT_EQ(Run({"status"}).exit_code, 0);
  // The migration is audited, once the schema it needs is there, and the chain verifies.
  auto audited = store::Sql(*conn).Query(
      "SELECT object FROM audit_log WHERE action = 'db.migrate' ORDER BY seq");
  ASSERT_TRUE(audited.ok());
  ASSERT_EQ(audited->size(), 1u);
  EXPECT_EQ((*audited)[0].Str(0), "schema:" + std::to_string(store::LatestSchemaVersion()));
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

TEST_F(CliIT, ImportRefusesACertificateForAnotherKey) {
  auto csr = Run({"ca", "create-sub", "--label", "s", "--name", "CN=S", "--key-type", "ec-p256",
                  "--csr-out", Path("s.csr")});
  ASSERT_EQ(csr.exit_code, 0) << csr.err;
  auto mk = Sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " +
               Quote(Path("k")) + " -out " + Quote(Path("other.pem")) +
               " -subj /CN=S -addext basicConstraints=critical,CA:TRUE");
  ASSERT_EQ(mk.exit_code, 0);
  auto imp = Run({"ca", "import-cert", "--label", "s", Path("other.pem")});
  EXPECT_EQ(imp.exit_code, 1);
  EXPECT_NE(imp.err.find("is not the key of CA 's'"), std::string::npos) << imp.err;
}

TEST_F(CliIT, BadInputGivesAClearErrorAndExitCode) {
  auto kt = Run({"ca", "create-root", "--label", "r", "--name", "CN=R", "--key-type", "dsa-1024"});
  EXPECT_EQ(kt.exit_code, 2);
  EXPECT_NE(kt.err.find("unknown key type 'dsa-1024'"), std::string::npos) << kt.err;

  auto dn = Run({"ca", "create-root", "--label", "r", "--name", "CN=R,Country=DK"});
  EXPECT_EQ(dn.exit_code, 2);
  EXPECT_NE(dn.err.find("malformed distinguished name"), std::string::npos) << dn.err;
  EXPECT_NE(dn.err.find("unknown attribute type 'Country'"), std::string::npos) << dn.err;

  auto missing = Run({"ca", "create-root", "--name", "CN=R"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--label"), std::string::npos) << missing.err;

  auto unknown = Run({"ca", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2);

  ASSERT_TRUE(WriteFile(Path("wrong-pin"), "000000\n", 0600).ok());
  auto pin = Run({"ca", "create-root", "--label", "r", "--name", "CN=R", "--token.pin-file",
                  Path("wrong-pin")});
  EXPECT_EQ(pin.exit_code, 1);
  EXPECT_NE(pin.err.find("CKR_PIN_INCORRECT"), std::string::npos) << pin.err;

  auto tok = Run(
      {"ca", "create-root", "--label", "r", "--name", "CN=R", "--token.label", "no-such-token"});
  EXPECT_EQ(tok.exit_code, 1);
  EXPECT_NE(tok.err.find("no token labelled 'no-such-token'"), std::string::npos) << tok.err;

  auto dup_root = Run({"ca", "create-root", "--label", "r1", "--name", "CN=R1"});
  ASSERT_EQ(dup_root.exit_code, 0) << dup_root.err;
  auto dup = Run({"ca", "create-root", "--label", "r1", "--name", "CN=R1"});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;

  auto parent = Run({"ca", "create-sub", "--parent", "nope", "--label", "s", "--name", "CN=S"});
  EXPECT_EQ(parent.exit_code, 1);
  EXPECT_NE(parent.err.find("no CA labelled 'nope'"), std::string::npos) << parent.err;
}

TEST_F(CliIT, FlagsBeatEnvironmentWhichBeatsTheConfigFile) {
  // The config names the right token; the environment names a wrong one; a flag fixes it.
  // (The stack's own CERTPRESS_* variables are removed so that only these three speak.)
  const std::string clean =
      "env -u CERTPRESS_DB_SOCKET -u CERTPRESS_TOKEN_PIN_FILE -u CERTPRESS_TOKEN_MODULE ";
  auto env_wins =
      Sh(clean + "CERTPRESS_CONFIG=" + Quote(cli_.config_path()) +
         " CERTPRESS_TOKEN_LABEL=from-env " CERTPRESS_BIN " ca create-root --label p --name CN=P");
  EXPECT_EQ(env_wins.exit_code, 1);
  EXPECT_NE(env_wins.err.find("'from-env'"), std::string::npos) << env_wins.err;
  auto flag_wins = Sh(clean + "CERTPRESS_CONFIG=" + Quote(cli_.config_path()) +
                      " CERTPRESS_TOKEN_LABEL=from-env " CERTPRESS_BIN
                      " ca create-root --label p --name CN=P --token.label " +
                      Quote(token_.label()));
  EXPECT_EQ(flag_wins.exit_code, 0) << flag_wins.err;
}

TEST_F(CliIT, EveryCommandHasHelp) {
  for (auto cmd : std::vector<std::vector<std::string>>{{"ca", "create-root"},
                                                        {"ca", "create-sub"},
                                                        {"ca", "import-cert"},
                                                        {"ca", "list"},
                                                        {"ca", "export"},
                                                        {"db", "migrate"},
                                                        {"audit", "verify"},
                                                        {"import"},
                                                        {"request", "submit"},
                                                        {"approve"},
                                                        {"reject"},
                                                        {"run-batch"},
                                                        {"scheduler"},
                                                        {"status"},
                                                        {"cert", "export"},
                                                        {"cert", "pkcs12"},
                                                        {"operator", "enroll"},
                                                        {"operator", "add"},
                                                        {"operator", "list"},
                                                        {"operator", "disable"}}) {
    std::string name;
    for (const auto& w : cmd) name += " " + w;
    cmd.push_back("--help");
    auto r = Run(cmd);
    EXPECT_EQ(r.exit_code, 0) << name;
    EXPECT_NE(r.out.find("Usage: certpress" + name), std::string::npos) << name << ": " << r.out;
  }
}

// `token init` sets up a token from PIN files in a SoftHSM2 store that has none; OpenSC's
// pkcs11-tool then logs in with each PIN. A second init of the same label is refused.
TEST_F(CliIT, TokenInitTakesBothPinsFromFiles) {
  const std::string store = Path("hsm");
  std::filesystem::create_directories(store + "/tokens");
  ASSERT_TRUE(WriteFile(store + "/softhsm2.conf",
                        "directories.tokendir = " + store + "/tokens\nobjectstore.backend = file\n",
                        0600)
                  .ok());
  ASSERT_TRUE(WriteFile(Path("user-pin"), "483920\n", 0600).ok());
  ASSERT_TRUE(WriteFile(Path("so-pin"), "77120459\n", 0600).ok());
  const std::string module = token_.module();
  const std::string env =
      "env -u CERTPRESS_CONFIG SOFTHSM2_CONF=" + Quote(store + "/softhsm2.conf");
  const std::string init = env + " " CERTPRESS_BIN " token init --token.module " + Quote(module) +
                           " --token.label fresh --token.pin-file " + Quote(Path("user-pin")) +
                           " --so-pin-file " + Quote(Path("so-pin"));
  auto r = Sh(init);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("token 'fresh' initialised"), std::string::npos) << r.out;

  const std::string tool = env + " pkcs11-tool --module " + Quote(module) + " --token-label fresh";
  auto user = Sh(tool + " --login --pin 483920 --list-objects");
  EXPECT_EQ(user.exit_code, 0) << user.err;
  auto wrong = Sh(tool + " --login --pin 000000 --list-objects");
  EXPECT_NE(wrong.exit_code, 0);
  // The security officer PIN works: with it, pkcs11-tool sets a new user PIN.
  auto so = Sh(tool + " --login --login-type so --so-pin 77120459 --init-pin --new-pin 555111");
  EXPECT_EQ(so.exit_code, 0) << so.err;
  auto renewed = Sh(tool + " --login --pin 555111 --list-objects");
  EXPECT_EQ(renewed.exit_code, 0) << renewed.err;

  auto again = Sh(init);
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("token 'fresh' already exists"), std::string::npos) << again.err;
  auto no_so = Sh(env + " " CERTPRESS_BIN " token init --token.module " + Quote(module) +
                  " --token.label other --token.pin-file " + Quote(Path("user-pin")));
  EXPECT_EQ(no_so.exit_code, 2);
  EXPECT_NE(no_so.err.find("--so-pin-file"), std::string::npos) << no_so.err;
}

// token.session-copies = false in the config file: CA certificates are still signed (with the
// token object) and verify; a value that is not a boolean is a usage error.
TEST_F(CliIT, SessionCopiesOffInTheConfigStillSigns) {
  std::ofstream(cli_.config_path(), std::ios::app) << "session-copies = false\n";  // [token]
  MakeHierarchy();
  auto v = Sh("openssl verify -x509_strict -CAfile " + Quote(Path("root.pem")) + " " +
              Quote(Path("sub.pem")));
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  auto bad = Run({"ca", "list", "--token.session-copies", "maybe"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("session-copies"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace certpress
