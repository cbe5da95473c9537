// Card personalization stations on the real stack: `certpress station` against the private
// pcscd with virtual PIV cards (tools/vpiv, driven by scripts/vcard), checked with tools
// nobody here wrote (yubico-piv-tool, OpenSC's pkcs11-tool, openssl) and in the store.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "common/bytes.h"
#include "store/sql.h"
#include "tests/support/test_env.h"

namespace certpress {
namespace {

using certpress::testing::Cli;
using certpress::testing::Quote;
using certpress::testing::RunResult;
using certpress::testing::Sh;
using certpress::testing::TestDb;
using certpress::testing::TestToken;

std::string Trim(std::string s) {
  s.erase(s.find_last_not_of(" \n\r\t") + 1);
  return s;
}

class StationIT : public ::testing::Test {
 protected:
  StationIT() : cli_(db_, token_) {}

  void SetUp() override {
    if (std::getenv("PCSCLITE_CSOCK_NAME") == nullptr ||
        std::getenv("CERTPRESS_VIRTUAL_CARDS") == nullptr ||
        std::atoi(std::getenv("CERTPRESS_VIRTUAL_CARDS")) < 2) {
      GTEST_SKIP() << "needs the stack's pcscd with 2 virtual cards (scripts/stack up)";
    }
    auto root = Run({"ca", "create-root", "--label", "root", "--name",
                     "CN=Station Test Root,O=CertPress Test,C=DK", "--key-type", "ec-p384"});
    ASSERT_EQ(root.exit_code, 0) << root.err;
    ASSERT_TRUE(WriteFile(Path("root.pem"), root.out).ok());
    auto sub = Run({"ca", "create-sub", "--parent", "root", "--label", "issuing", "--name",
                    "CN=Station Test Issuing CA,O=CertPress Test,C=DK", "--key-type", "ec-p256"});
    ASSERT_EQ(sub.exit_code, 0) << sub.err;
    ASSERT_TRUE(WriteFile(Path("sub.pem"), sub.out).ok());
    for (int card : {1, 2}) {
      ASSERT_EQ(VCard(card, "fault-clear").exit_code, 0);
      ASSERT_EQ(VCard(card, "timing none").exit_code, 0);
      auto reset = VCard(card, "factory-reset");
      ASSERT_EQ(reset.exit_code, 0) << reset.err;
      ASSERT_EQ(VCard(card, "insert").exit_code, 0);
    }
  }

  RunResult Run(std::vector<std::string> args) { return cli_.Run(args); }
  std::string Path(const std::string& name) { return cli_.dir() + "/" + name; }

  static RunResult VCard(int card, const std::string& args) {
    return Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/vcard ") + std::to_string(card) + " " +
              args);
  }
  static std::string Reader(int card) { return Trim(VCard(card, "reader").out); }
  // WaitUntilOut waits (at most 10 s) until pcscd reports card |card|'s reader empty: a card
  // put back within one of pcscd's polls after it was pulled can leave the reader empty.
  static bool WaitUntilOut(int card) {
    const std::string reader = Reader(card);
    for (int i = 0; i < 100; ++i) {
      auto list = Sh("opensc-tool --list-readers");
      std::smatch m;
      if (std::regex_search(list.out, m, std::regex("\\n\\d+\\s+No\\s+" + reader))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  static std::string Serial(int card) {
    auto st = VCard(card, "status");
    std::smatch m;
    std::regex re("\"serial\":\\s*(\\d+)");
    return std::regex_search(st.out, m, re) ? m[1].str() : "";
  }

  // Requests of |profile| (employee-piv by default), approved by two operators (dual control).
  void Requests(int n, const std::string& profile = "employee-piv") {
    const std::string file = Path(profile + "-" + std::to_string(n) + ".csv");
    ASSERT_EQ(Sh(std::string(CERTPRESS_SOURCE_DIR "/scripts/gen-employees ") + std::to_string(n) +
                 " 1 > " + Quote(file))
                  .exit_code,
              0);
    // carol submits; alice and bob, the two others, approve.
    auto imp = cli_.SubmitAs({"import", file, "--profile", profile, "--ca", "issuing"}, "carol");
    ASSERT_EQ(imp.exit_code, 0) << imp.err;
    for (const char* op : {"alice", "bob"}) {
      auto ok = cli_.Decide({"approve", "--all", "--profile", profile}, op);
      ASSERT_EQ(ok.exit_code, 0) << ok.err;
    }
  }

  // AddPivProfile writes card profile |name|: employee-piv with its three keys' lines
  // (algorithm and source, 9a, 9c, 9d in that order) replaced by |keys|, plus |extra| TOML.
  void AddPivProfile(const std::string& name,
                     const std::vector<std::pair<std::string, std::string>>& keys,
                     const std::string& extra = "", const std::string& top = "") {
    auto shipped = ReadFile(Path("profiles/employee-piv.toml"));
    ASSERT_TRUE(shipped.ok());
    std::string toml = std::regex_replace(*shipped, std::regex("employee-piv"), name);
    // A short letterhead (the layout is kgs/letter_pdf's to test).
    toml = std::regex_replace(toml, std::regex("sender = \\[[^\\]]*\\]"),
                              "sender = [\"CertPress Test\", \"Card Services\"]");
    if (!top.empty()) {
      toml = std::regex_replace(toml, std::regex("delivery = \"station\""),
                                "delivery = \"station\"\n" + top);
    }
    size_t at = 0;
    for (const auto& [algorithm, source] : keys) {
      const std::string from = "algorithm = \"ec-p256\"\nsource = \"card\"";
      at = toml.find(from, at);
      ASSERT_NE(at, std::string::npos);
      const std::string to = "algorithm = \"" + algorithm + "\"\nsource = \"" + source + "\"";
      toml.replace(at, from.size(), to);
      at += to.size();
    }
    ASSERT_TRUE(WriteFile(Path("profiles/" + name + ".toml"), toml + extra).ok());
  }

  // PinAndPuk prints the PIN letters queued so far and reads the PIN and PUK of card |serial|
  // from its letter's text (pdftotext), as its holder would.
  std::pair<std::string, std::string> PinAndPuk(const std::string& serial) {
    auto print = Run({"pinletter", "print", "--all", "--out-dir", Path("queue")});
    EXPECT_EQ(print.exit_code, 0) << print.err;
    auto text = Sh("for f in " + Path("queue") +
                   "/pinletter-*.pdf; do pdftotext -layout -enc UTF-8 \"$f\" -; done");
    EXPECT_EQ(text.exit_code, 0) << text.err;
    // The letter naming the card's serial.
    std::string letter;
    for (size_t from = 0; from < text.out.size();) {
      size_t end = text.out.find('\f', from);
      if (end == std::string::npos) end = text.out.size();
      std::string page = text.out.substr(from, end - from);
      if (page.find(serial) != std::string::npos) letter = page;
      from = end + 1;
    }
    std::smatch m;
    std::string pin, puk;
    if (std::regex_search(letter, m, std::regex("Your PIN[^\\n]*?(\\d{6,8})"))) pin = m[1].str();
    if (std::regex_search(letter, m, std::regex("Your PUK[^\\n]*?(\\d{8})"))) puk = m[1].str();
    EXPECT_FALSE(pin.empty()) << text.out;
    return {pin, puk};
  }

  // CertOf reads slot |slot|'s certificate with yubico-piv-tool into |slot|.pem and its public
  // key into |slot|.pub, and checks the chain with openssl.
  // With |opensc_id| the certificate is read with OpenSC (pkcs11-tool) instead: Debian 12's
  // yubico-piv-tool 2.2.0 cannot inflate a compressed certificate ("Invalid cert data").
  void CertOf(int card, const std::string& slot, const std::string& opensc_id = "") {
    if (opensc_id.empty()) {
      auto pem = PivTool(card, "-a read-cert -s " + slot);
      ASSERT_EQ(pem.exit_code, 0) << pem.err;
      ASSERT_TRUE(WriteFile(Path(slot + ".pem"), pem.out).ok());
    } else {
      auto der = Sh("pkcs11-tool --module " + std::string(kOpenScModule) +
                    " --read-object --type cert --id " + opensc_id + " -o " +
                    Quote(Path(slot + ".der")) + " && openssl x509 -inform DER -in " +
                    Quote(Path(slot + ".der")) + " -out " + Quote(Path(slot + ".pem")));
      ASSERT_EQ(der.exit_code, 0) << der.out << der.err;
    }
    auto verify = Sh("openssl verify -x509_strict -CAfile " + Quote(Path("root.pem")) +
                     " -untrusted " + Quote(Path("sub.pem")) + " " + Quote(Path(slot + ".pem")));
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    auto pub = Sh("openssl x509 -pubkey -noout -in " + Quote(Path(slot + ".pem")) + " > " +
                  Quote(Path(slot + ".pub")));
    ASSERT_EQ(pub.exit_code, 0) << pub.err;
  }

  // Pkcs11Sign has OpenSC sign a fresh challenge with key |id| (01 = 9a, 02 = 9c, 03 = 9d)
  // after logging in with |pin|, and openssl verify it with the public key of |slot|'s
  // certificate (CertOf). |mechanism| and |digest| go together (SHA256-RSA-PKCS / sha256).
  void Pkcs11Sign(const std::string& pin, const std::string& id, const std::string& mechanism,
                  const std::string& digest, const std::string& slot) {
    ASSERT_TRUE(WriteFile(Path("data"), "a fresh challenge " + testing::RandomSuffix()).ok());
    const bool ec = mechanism.rfind("ECDSA", 0) == 0;
    auto sign =
        Sh("pkcs11-tool --module " + std::string(kOpenScModule) + " --login --pin " + pin +
           " --sign --id " + id + " -m " + mechanism + (ec ? " --signature-format openssl" : "") +
           " -i " + Quote(Path("data")) + " -o " + Quote(Path("sig")));
    ASSERT_EQ(sign.exit_code, 0) << sign.out << sign.err
                                 << Sh("pkcs11-tool --module " + std::string(kOpenScModule) +
                                       " --login --pin " + pin + " --list-objects --type privkey")
                                        .out;
    auto verify = Sh("openssl dgst -" + digest + " -verify " + Quote(Path(slot + ".pub")) +
                     " -signature " + Quote(Path("sig")) + " " + Quote(Path("data")));
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    EXPECT_NE(verify.out.find("Verified OK"), std::string::npos) << slot << ": " << verify.out;
  }

  // Pkcs11Decrypt has openssl encrypt a fresh secret to the RSA key of |slot|'s certificate
  // (PKCS#1 v1.5) and OpenSC decrypt it with key |id| after logging in with |pin|: a key
  // management key is for key transport, not signing (its certificate says keyEncipherment).
  void Pkcs11Decrypt(const std::string& pin, const std::string& id, const std::string& slot) {
    const std::string secret = "a key to transport " + testing::RandomSuffix();
    ASSERT_TRUE(WriteFile(Path("secret"), secret).ok());
    auto enc = Sh("openssl pkeyutl -encrypt -pubin -inkey " + Quote(Path(slot + ".pub")) +
                  " -pkeyopt rsa_padding_mode:pkcs1 -in " + Quote(Path("secret")) + " -out " +
                  Quote(Path("secret.enc")));
    ASSERT_EQ(enc.exit_code, 0) << enc.err;
    auto dec = Sh("pkcs11-tool --module " + std::string(kOpenScModule) + " --login --pin " + pin +
                  " --decrypt --id " + id + " -m RSA-PKCS -i " + Quote(Path("secret.enc")) +
                  " -o " + Quote(Path("secret.dec")));
    ASSERT_EQ(dec.exit_code, 0) << dec.out << dec.err;
    auto back = ReadFile(Path("secret.dec"));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, secret) << slot;
  }

  static constexpr char kOpenScModule[] = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";

  int64_t Scalar(const std::string& sql) {
    auto c = db_.Connect();
    auto rows = store::Sql(*c).Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    return rows.ok() && !rows->empty() && !(*rows)[0].IsNull(0) ? (*rows)[0].Int(0) : -1;
  }

  RunResult PivTool(int card, const std::string& args) {
    return Sh("yubico-piv-tool -r " + Quote(Reader(card)) + " " + args);
  }

  TestDb db_;
  TestToken token_;
  Cli cli_;
};

TEST_F(StationIT, PersonalizesACardThatYubicoPivToolAndOpenScRead) {
  Requests(1);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  const std::string serial = Serial(1);
  ASSERT_FALSE(serial.empty());
  EXPECT_NE(st.out.find("card " + serial), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("request 1 personalized"), std::string::npos) << st.out;

  // The store: the card personalized with a GUID, its request issued, three certificates.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized' AND serial = '" +
                   serial + "' AND chuid_guid IS NOT NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM card_certificates"), 3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'card.personalized'"), 1);

  // yubico-piv-tool sees a CHUID, a CCC and the three certificates, as issued.
  auto status = PivTool(1, "-a status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("CHUID:"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("CCC:"), std::string::npos) << status.out;
  for (const char* slot : {"9a", "9c", "9d"}) {
    EXPECT_NE(status.out.find(std::string("Slot ") + slot), std::string::npos) << status.out;
    auto pem = PivTool(1, std::string("-a read-cert -s ") + slot);
    ASSERT_EQ(pem.exit_code, 0) << pem.err;
    ASSERT_TRUE(WriteFile(Path(std::string(slot) + ".pem"), pem.out).ok());
    auto verify =
        Sh("openssl verify -x509_strict -CAfile " + Quote(Path("root.pem")) + " -untrusted " +
           Quote(Path("sub.pem")) + " " + Quote(Path(std::string(slot) + ".pem")));
    EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
    auto ser = Sh("openssl x509 -noout -serial -in " + Quote(Path(std::string(slot) + ".pem")));
    std::string hex = Trim(ser.out.substr(ser.out.find('=') + 1));
    for (auto& c : hex) c = static_cast<char>(tolower(c));
    EXPECT_EQ(Scalar("SELECT COUNT(*) FROM card_certificates WHERE slot = '" + std::string(slot) +
                     "' AND LOWER(serial) = '" + hex + "'"),
              1)
        << slot << " " << hex;
  }
  // The retry counters were set (3) and the PIN is no longer the factory one.
  EXPECT_NE(status.out.find("PIN tries left:\t3"), std::string::npos) << status.out;
  auto factory_pin = PivTool(1, "-a verify-pin -P 123456");
  EXPECT_NE(factory_pin.exit_code, 0);
  // The factory management key no longer works: the card has its own.
  auto factory_key = PivTool(1, "-k 010203040506070801020304050607080102030405060708 -a set-chuid");
  EXPECT_NE(factory_key.exit_code, 0) << factory_key.out;

  // OpenSC lists the card's certificates and keys.
  auto objects = Sh("PCSCLITE_CSOCK_NAME=" + Quote(std::getenv("PCSCLITE_CSOCK_NAME")) +
                    " pkcs11-tool --module opensc-pkcs11.so --list-objects --type cert");
  EXPECT_EQ(objects.exit_code, 0) << objects.err;
  EXPECT_GE(testing::Occurrences(objects.out, "Certificate Object"), 3u) << objects.out;
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// The PIN comes from the PIN letter (printed to PDF, read back with pdftotext): OpenSC logs in
// with it and signs, openssl verifies the signature with the issued certificate; a wrong PIN
// lowers the counter; the PUK from the same letter unblocks a blocked PIN.
TEST_F(StationIT, ThePinFromTheLetterSignsWithOpenScAndItsPukUnblocks) {
  // A short letterhead: the letter's layout is kgs/letter_pdf's to test, not this test's (the
  // letter's wording is outside the hash a request pins, so this may change at any time).
  auto profile = ReadFile(Path("profiles/employee-piv.toml"));
  ASSERT_TRUE(profile.ok());
  ASSERT_TRUE(WriteFile(Path("profiles/employee-piv.toml"),
                        std::regex_replace(*profile, std::regex("sender = \\[[^\\]]*\\]"),
                                           "sender = [\"CertPress Test\", \"Card Services\"]"))
                  .ok());
  Requests(1);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM pin_letters WHERE state = 'created' AND card_serial = '" +
                   Serial(1) + "'"),
            1);
  auto print = Run({"pinletter", "print", "--all", "--out-dir", Path("queue")});
  ASSERT_EQ(print.exit_code, 0) << print.err;
  auto text = Sh("pdftotext -layout -enc UTF-8 " + Path("queue") + "/pinletter-*.pdf -");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(text.out, m, std::regex("Your PIN[^\\n]*?(\\d{6,8})"))) << text.out;
  const std::string pin = m[1].str();
  ASSERT_TRUE(std::regex_search(text.out, m, std::regex("Your PUK[^\\n]*?(\\d{8})"))) << text.out;
  const std::string puk = m[1].str();
  EXPECT_EQ(pin.size(), 8u);  // employee-piv's default pin_length
  // Neither secret went anywhere but the card and the letter.
  EXPECT_EQ((st.out + st.err).find(pin), std::string::npos);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE details LIKE '%" + pin + "%'"), 0);

  // OpenSC: log in with the letter's PIN and sign with the PIV authentication key (9A, id 01).
  ASSERT_TRUE(WriteFile(Path("data"), "a fresh challenge " + testing::RandomSuffix()).ok());
  auto sign = Sh("pkcs11-tool --module opensc-pkcs11.so --login --pin " + pin +
                 " --sign --id 01 -m ECDSA-SHA256 --signature-format openssl -i " +
                 Quote(Path("data")) + " -o " + Quote(Path("sig")));
  ASSERT_EQ(sign.exit_code, 0) << sign.out << sign.err;
  auto cert = PivTool(1, "-a read-cert -s 9a");
  ASSERT_EQ(cert.exit_code, 0) << cert.err;
  ASSERT_TRUE(WriteFile(Path("9a.pem"), cert.out).ok());
  auto verify =
      Sh("openssl x509 -pubkey -noout -in " + Quote(Path("9a.pem")) + " > " +
         Quote(Path("9a.pub")) + " && openssl dgst -sha256 -verify " + Quote(Path("9a.pub")) +
         " -signature " + Quote(Path("sig")) + " " + Quote(Path("data")));
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("Verified OK"), std::string::npos) << verify.out;

  // A wrong PIN lowers the counter (3 -> 2).
  const std::string wrong = pin == "00000000" ? "11111111" : "00000000";
  EXPECT_NE(PivTool(1, "-a verify-pin -P " + wrong).exit_code, 0);
  EXPECT_NE(PivTool(1, "-a status").out.find("PIN tries left:\t2"), std::string::npos);
  // Blocked after two more; the PUK sets a new PIN, which then verifies.
  PivTool(1, "-a verify-pin -P " + wrong);
  PivTool(1, "-a verify-pin -P " + wrong);
  EXPECT_NE(PivTool(1, "-a verify-pin -P " + pin).exit_code, 0);  // blocked
  auto unblock = PivTool(1, "-a unblock-pin -P " + puk + " -N 24681357");
  EXPECT_EQ(unblock.exit_code, 0) << unblock.out << unblock.err;
  EXPECT_EQ(PivTool(1, "-a verify-pin -P 24681357").exit_code, 0);
}

// The issue's key types on the card: RSA-2048 in 9A and 9D, P-384 in 9C, generated by the card
// (GENERATE ASYMMETRIC KEY PAIR), certified, written (an RSA certificate is over a kilobyte:
// command chaining), read by yubico-piv-tool and OpenSC, and used by OpenSC with the PIN from
// the letter, the signatures verified by openssl with the issued certificates.
//
// 9A's certificate profile names so many CRL distribution points that its certificate is too
// large for a certificate object uncompressed (over 2,900 bytes): it is written gzip-compressed
// with CertInfo 01 (SP 800-73-4 Part 1 Table 10), and both tools inflate it.
TEST_F(StationIT, Rsa2048AndP384KeysMadeOnTheCardSignWithOpenSc) {
  std::string big =
      "\n[certificate.big-auth]\nvalidity_days = 365\nbackdate_seconds = 300\n"
      "key_usage = [\"digitalSignature\"]\nextended_key_usage = [\"clientAuth\"]\n"
      "san_types = [\"upn\", \"email\"]\ncrl_urls = [";
  for (int i = 0; i < 24; ++i) {
    big += std::string(i ? ", " : "") + "\"http://pki" + std::to_string(i) +
           ".certpress.example/crl/a-rather-long-path-to-make-the-certificate-big/issuing.crl\"";
  }
  big += "]\n";
  AddPivProfile("rsa-piv", {{"rsa-2048", "card"}, {"ec-p384", "card"}, {"rsa-2048", "card"}}, big);
  {
    auto toml = ReadFile(Path("profiles/rsa-piv.toml"));
    ASSERT_TRUE(toml.ok());
    ASSERT_TRUE(WriteFile(Path("profiles/rsa-piv.toml"),
                          std::regex_replace(*toml, std::regex("certificate = \"piv-auth\""),
                                             "certificate = \"big-auth\""))
                    .ok());
  }
  Requests(1, "rsa-piv");
  auto st = Run({"station", "--profile", "rsa-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  const std::string serial = Serial(1);
  EXPECT_NE(st.out.find("card " + serial), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("personalized ("), std::string::npos) << st.out;

  auto status = PivTool(1, "-a status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  for (const char* slot : {"9a", "9c", "9d"}) {
    EXPECT_NE(status.out.find(std::string("Slot ") + slot), std::string::npos) << status.out;
  }
  CertOf(1, "9a", "01");  // compressed
  CertOf(1, "9c");
  CertOf(1, "9d");
  // yubico-piv-tool names the algorithm of the slots whose certificate it can read (not 9A's,
  // compressed); openssl the certified keys'.
  EXPECT_EQ(testing::Occurrences(status.out, "Algorithm:\tRSA2048"), 1u) << status.out;
  EXPECT_EQ(testing::Occurrences(status.out, "Algorithm:\tECCP384"), 1u) << status.out;
  for (const char* slot : {"9a", "9d"}) {
    auto text = Sh("openssl x509 -noout -text -in " + Quote(Path(std::string(slot) + ".pem")));
    EXPECT_NE(text.out.find("Public-Key: (2048 bit)"), std::string::npos) << slot << text.out;
    EXPECT_NE(text.out.find("rsaEncryption"), std::string::npos) << slot;
  }
  // 9A's certificate went compressed (yubico-piv-tool and OpenSC both read it back above).
  auto der = Sh("openssl x509 -outform DER -in " + Quote(Path("9a.pem")) + " | wc -c");
  EXPECT_GT(std::stoi(der.out), 2900) << der.out;
  auto object = PivTool(1, "-a read-object --id 0x5fc105 -f binary | od -An -tx1 -v");
  EXPECT_NE(object.out.find("71 01 01"), std::string::npos) << object.out.substr(0, 200);
  auto p384 = Sh("openssl x509 -noout -text -in " + Quote(Path("9c.pem")));
  EXPECT_NE(p384.out.find("NIST CURVE: P-384"), std::string::npos) << p384.out;

  auto objects = Sh("pkcs11-tool --module " + std::string(kOpenScModule) + " --list-objects");
  EXPECT_EQ(objects.exit_code, 0) << objects.err;
  EXPECT_GE(testing::Occurrences(objects.out, "Certificate Object"), 3u) << objects.out;
  EXPECT_NE(objects.out.find("RSA 2048 bits"), std::string::npos) << objects.out;
  EXPECT_NE(objects.out.find("EC_POINT 384 bits"), std::string::npos) << objects.out;

  const auto [pin, puk] = PinAndPuk(serial);
  ASSERT_FALSE(pin.empty());
  Pkcs11Sign(pin, "01", "SHA256-RSA-PKCS", "sha256", "9a");
  Pkcs11Sign(pin, "02", "ECDSA-SHA384", "sha384", "9c");
  Pkcs11Decrypt(pin, "03", "9d");
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// A profile that archives its key-management key: the server makes the RSA-2048 key for 9D,
// seals it in the store (envelope encryption under the token's key encryption key), imports it
// to the card (Yubico IMPORT ASYMMETRIC KEY) and certifies it. The card decrypts with it
// through OpenSC; the key recovered by the store's sealed-key path (`cert pkcs12`) is the
// certified one and decrypts the same; the database holds no clear private key.
TEST_F(StationIT, AnArchivedServerKeyIsImportedTo9DAndRecoverable) {
  AddPivProfile("archive-piv", {{"ec-p256", "card"}, {"ec-p256", "card"}, {"rsa-2048", "server"}},
                "", "archive_keys = true");
  Requests(1, "archive-piv");
  auto st = Run({"station", "--profile", "archive-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  const std::string serial = Serial(1);
  EXPECT_NE(st.out.find("card " + serial), std::string::npos) << st.out;

  // The store: one sealed key, 9D's, under a wrapped data key; the audit says it was archived.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM private_keys WHERE request_id = 1 AND key_name = "
                   "'key-management'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM private_keys"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'card.certificate' AND "
                   "details LIKE '%slot=9d%archived=yes%'"),
            1);

  auto status = PivTool(1, "-a status");
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("Algorithm:\tRSA2048"), std::string::npos) << status.out;
  CertOf(1, "9d");
  // The card did not make 9D's key: it attests the keys it generated (9A), never an imported one.
  EXPECT_EQ(PivTool(1, "-a attest -s 9a").exit_code, 0);
  EXPECT_NE(PivTool(1, "-a attest -s 9d").exit_code, 0);

  // Recovered through the sealed-key path: its public half is the one certified for 9D.
  ASSERT_TRUE(WriteFile(Path("p12pass"), "recovery-" + testing::RandomSuffix()).ok());
  auto p12 = Run({"cert", "pkcs12", "--request", "1", "--key", "key-management", "--out",
                  Path("9d.p12"), "--password-file", Path("p12pass")});
  ASSERT_EQ(p12.exit_code, 0) << p12.out << p12.err;
  auto key = Sh("openssl pkcs12 -in " + Quote(Path("9d.p12")) + " -nocerts -noenc -passin file:" +
                Quote(Path("p12pass")) + " | openssl pkey -out " + Quote(Path("9d.key")));
  ASSERT_EQ(key.exit_code, 0) << key.err;
  auto pub = Sh("openssl pkey -in " + Quote(Path("9d.key")) + " -pubout");
  ASSERT_EQ(pub.exit_code, 0) << pub.err;
  EXPECT_EQ(pub.out, *ReadFile(Path("9d.pub")));

  // The card decrypts with the key (OpenSC, the letter's PIN); so does the recovered copy.
  const auto [pin, puk] = PinAndPuk(serial);
  ASSERT_FALSE(pin.empty());
  Pkcs11Decrypt(pin, "03", "9d");
  auto dec = Sh("openssl pkeyutl -decrypt -inkey " + Quote(Path("9d.key")) +
                " -pkeyopt rsa_padding_mode:pkcs1 -in " + Quote(Path("secret.enc")));
  ASSERT_EQ(dec.exit_code, 0) << dec.err;
  EXPECT_EQ(dec.out, *ReadFile(Path("secret")));
  // And the other keys still sign (ECDSA on 9A).
  CertOf(1, "9a");
  Pkcs11Sign(pin, "01", "ECDSA-SHA256", "sha256", "9a");

  // No clear private key in the database: neither its prime p nor a piece of the PKCS#8 from
  // inside the private exponent (the modulus is public: the certificate holds it), in hex (as
  // mariadb-dump --hex-blob shows blobs) or as the dump's own text.
  auto p =
      Sh("python3 -c \"import sys; from cryptography.hazmat.primitives.serialization import "
         "load_pem_private_key as l; print('%X' % l(open(sys.argv[1], 'rb').read(), "
         "None).private_numbers().p)\" " +
         Quote(Path("9d.key")));
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const std::string prime = Trim(p.out).substr(0, 64);
  auto der = Sh("openssl pkey -in " + Quote(Path("9d.key")) +
                " -outform DER | od -An -tx1 -v | "
                "tr -d ' \\n' | tr a-f A-F | cut -c 1001-1064");
  ASSERT_EQ(der.exit_code, 0) << der.err;
  const std::string pkcs8 = Trim(der.out);
  ASSERT_EQ(pkcs8.size(), 64u);
  const std::string dump_cmd = "mariadb-dump --no-defaults -uroot --socket=" +
                               Quote(testing::RequireEnv("CERTPRESS_DB_SOCKET")) + " " +
                               Quote(db_.name());
  auto hex_dump = Sh(dump_cmd + " --hex-blob");
  ASSERT_EQ(hex_dump.exit_code, 0) << hex_dump.err;
  auto dump = Sh(dump_cmd);
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  ASSERT_NE(hex_dump.out.find("private_keys"), std::string::npos);
  for (const std::string* text : {&hex_dump.out, &dump.out}) {
    std::string lower = *text;
    for (auto& c : lower) c = static_cast<char>(tolower(c));
    for (std::string needle : {prime, pkcs8}) {
      EXPECT_EQ(text->find(needle), std::string::npos) << needle;
      for (auto& c : needle) c = static_cast<char>(tolower(c));
      EXPECT_EQ(lower.find(needle), std::string::npos) << needle;
    }
    EXPECT_EQ(text->find("PRIVATE KEY"), std::string::npos);
  }
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

TEST_F(StationIT, ACardPulledOutHalfWayFailsWithItsCertificatesRevokedAndIsDoneAgain) {
  Requests(1);
  // The card leaves its reader on the first PUT DATA (DB): the 9A certificate is issued,
  // not yet written.
  ASSERT_EQ(VCard(1, "fault drop-on=DB").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 0);
  // Its certificate is revoked, cessationOfOperation (RFC 5280 5.3.1), and marked so.
  EXPECT_GE(Scalar("SELECT COUNT(*) FROM revocations WHERE reason_code = 5"), 1);
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE status = 'revoked'"),
            Scalar("SELECT COUNT(*) FROM revocations"));
  // The request is not lost.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);

  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE serial = '" + Serial(1) + "'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      3);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// The card is locked down before anything of value goes on it: pulled out right after its
// first certificate was written (the operator keeps it), it holds its holder's certificate but
// the factory PIN no longer opens it, nor does the factory management key. Its certificate is
// revoked and its request goes back; put in again, the station resets the card it left
// half-done and personalizes it.
TEST_F(StationIT, ACardPulledOutAfterItsFirstCertificateDoesNotTakeTheFactoryPin) {
  Requests(1);
  ASSERT_EQ(VCard(1, "fault drop-after-cert").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
  EXPECT_GE(Scalar("SELECT COUNT(*) FROM revocations WHERE reason_code = 5"), 1);

  ASSERT_TRUE(WaitUntilOut(1));
  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  // The certificate is on the card (what the operator walked away with)...
  auto cert = PivTool(1, "-a read-cert -s 9a");
  EXPECT_EQ(cert.exit_code, 0) << cert.out << cert.err;
  // ...but neither the factory PIN nor the factory management key opens it.
  auto factory_pin = PivTool(1, "-a verify-pin -P 123456");
  EXPECT_NE(factory_pin.exit_code, 0) << factory_pin.out << factory_pin.err;
  auto factory_key = PivTool(1, "-k 010203040506070801020304050607080102030405060708 -a set-chuid");
  EXPECT_NE(factory_key.exit_code, 0) << factory_key.out;

  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);
  EXPECT_NE(PivTool(1, "-a verify-pin -P 123456").exit_code, 0);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// A personalized card put into a station again is refused before anything is claimed or
// written: its holder's keys and certificates stay as they were (yubico-piv-tool status and
// certificates compared, and the public key in 9A by GET METADATA), and the next request waits.
TEST_F(StationIT, APersonalizedCardPutInAgainIsRefusedAndKeepsItsHoldersKeys) {
  Requests(2);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  const std::string serial = Serial(1);
  auto Snapshot = [&] {
    std::string all = PivTool(1, "-a status").out;
    for (const char* slot : {"9a", "9c", "9d"}) {
      all += PivTool(1, std::string("-a read-cert -s ") + slot).out;
    }
    return all;
  };
  const std::string before = Snapshot();
  ASSERT_NE(before.find("BEGIN CERTIFICATE"), std::string::npos) << before;

  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.out.find("card " + serial +
                           " is already personalized for request 1 (state "
                           "personalized); reset it first"),
            std::string::npos)
      << again.out << again.err;
  EXPECT_EQ(Snapshot(), before);
  // Nothing claimed, issued or revoked for it.
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE id = 2 AND state = 'approved' AND "
                   "claimed_by IS NULL"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials WHERE request_id = 2"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM revocations"), 0);
  // The letter's PIN still opens it.
  const auto [pin, puk] = PinAndPuk(serial);
  ASSERT_FALSE(pin.empty());
  EXPECT_EQ(PivTool(1, "-a verify-pin -P " + pin).exit_code, 0);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// Reset by its holder's organisation (PIN and PUK blocked, then yubico-piv-tool -a reset: the
// factory management key and PIN again), the same card is personalized for the next request;
// its earlier personalization ends failed, its certificates revoked (the keys are gone).
TEST_F(StationIT, APersonalizedCardThatWasResetIsPersonalizedAgain) {
  Requests(2);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  for (int i = 0; i < 10; ++i) {  // the profile's counters are at most 10
    PivTool(1, "-a verify-pin -P 11111111");
    PivTool(1, "-a change-puk -P 11111111 -N 22222222");
  }
  auto reset = PivTool(1, "-a reset");
  ASSERT_EQ(reset.exit_code, 0) << reset.out << reset.err;
  ASSERT_EQ(PivTool(1, "-a verify-pin -P 123456").exit_code, 0);

  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("request 2 personalized"), std::string::npos) << again.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized' AND request_id = 2"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed' AND request_id = 1 AND "
                   "reason LIKE '%factory-reset%'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM revocations r JOIN card_certificates cc ON "
                   "cc.issuer_id = r.issuer_id AND cc.serial = r.serial JOIN cards c ON c.id = "
                   "cc.card_id WHERE c.request_id = 1 AND r.reason_code = 5"),
            3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'card.reset'"), 1);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// A card that stops answering (it hangs in GENERATE: pcsc-lite's SCardTransmit then blocks with
// no timeout of its own) is given up after --card-timeout: it ends failed with a message naming
// the card and the command, its request goes back, and the card in the other reader is
// personalized meanwhile; the station returns instead of waiting for the hung card.
TEST_F(StationIT, ACardThatStopsAnsweringFailsAloneAndTheOtherReaderGoesOn) {
  Requests(2);
  const std::string hung = Serial(1);
  ASSERT_EQ(VCard(1, "fault mute-on=47").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--reader",
                 Reader(2), "--once", "--card-timeout", "3"});
  EXPECT_NE(st.exit_code, 0);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(st.out, m, std::regex("card " + hung + " [^\n]*")))
      << st.out << st.err;
  const std::string line = m[0].str();
  EXPECT_NE(line.find("failed"), std::string::npos) << line;
  EXPECT_NE(line.find("did not answer GENERATE ASYMMETRIC KEY PAIR (INS 47)"), std::string::npos)
      << line;
  EXPECT_NE(line.find("within 3000 ms"), std::string::npos) << line;
  EXPECT_NE(st.out.find("card " + Serial(2)), std::string::npos) << st.out;
  EXPECT_EQ(testing::Occurrences(st.out, " personalized ("), 1u) << st.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed' AND serial = '" + hung +
                   "' AND reason LIKE '%GENERATE ASYMMETRIC KEY PAIR%'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized' AND serial = '" +
                   Serial(2) + "'"),
            1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 1);

  // Pulled out and put back (the hung command ends with it), the card is personalized.
  ASSERT_EQ(VCard(1, "remove").exit_code, 0);
  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  auto again = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 2);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// A station whose lease ran out and whose request another station took stops: station A's
// card generates its keys slowly; meanwhile its lease is made to run out (set in the past,
// after A renewed it at its last step) and station B takes the request with another card and
// personalizes it. A then records no intent and stores no certificate: its card ends failed,
// request 1 has B's three certificates and no other serial.
TEST_F(StationIT, AStationThatLostItsRequestIssuesNothingMore) {
  Requests(1);
  ASSERT_EQ(VCard(1, "timing gen-p256=5000").exit_code, 0);
  const std::string cmd =
      cli_.CommandLine({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(Sh("(" + cmd + " > " + Quote(Path("a.out")) + " 2>&1; echo $? > " +
               Quote(Path("a.rc")) + ") > /dev/null 2>&1 &")
                .exit_code,
            0);
  // A took the request and renews its lease after each step; inside a slow GENERATE it renews
  // nothing. Wait until the lease has stood still for a second (A is generating; not by a
  // fixed sleep, which a loaded machine outruns), then let it run out.
  auto lease = [&] {
    return Scalar(
        "SELECT CAST(UNIX_TIMESTAMP(r.lease_until) * 1000000 AS SIGNED) FROM requests r JOIN "
        "cards c ON c.request_id = r.id WHERE c.state = 'personalizing'");
  };
  int64_t seen = -1;
  auto since = std::chrono::steady_clock::now();
  const auto give_up = since + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    const int64_t now_lease = lease();
    if (now_lease != seen) {
      seen = now_lease;
      since = std::chrono::steady_clock::now();
    } else if (seen > 0 && std::chrono::steady_clock::now() - since > std::chrono::seconds(1)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GT(seen, 0) << Sh("cat " + Quote(Path("a.out"))).out;
  ASSERT_EQ(Scalar("SELECT COUNT(*) FROM serials WHERE request_id = 1"), 0);
  {
    auto c = db_.Connect();
    ASSERT_TRUE(store::Sql(*c)
                    .Exec("UPDATE requests SET lease_until = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND "
                          "WHERE id = 1")
                    .ok());
  }
  auto b = Run(
      {"station", "--profile", "employee-piv", "--reader", Reader(2), "--once", "--request", "1"});
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_NE(b.out.find("request 1 personalized"), std::string::npos) << b.out;
  // A comes back from its keys and stops.
  for (int i = 0; i < 1500 && !ReadFile(Path("a.rc")).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(ReadFile(Path("a.rc")).ok())
      << Sh("cat " + Quote(Path("a.out"))).out << VCard(1, "status").out;
  EXPECT_NE(Trim(*ReadFile(Path("a.rc"))), "0");
  const std::string a_out = *ReadFile(Path("a.out"));
  EXPECT_NE(a_out.find("no longer"), std::string::npos) << a_out;
  const std::string serial_a = Serial(1);
  EXPECT_EQ(
      Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed' AND serial = '" + serial_a + "'"),
      1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM card_certificates cc JOIN cards c ON c.id = "
                   "cc.card_id WHERE c.serial = '" +
                   serial_a + "'"),
            0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials WHERE request_id = 1"), 3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE request_id = 1 AND status = 'issued'"),
            3);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE id = 1 AND state = 'issued'"), 1);
  EXPECT_EQ(Run({"audit", "verify"}).exit_code, 0);
}

// A card that cannot set its retry counters (SET PIN RETRIES answers 6D00) keeps its own: one
// allowing 15 PIN tries (set beforehand with yubico-piv-tool) is refused against the profile's
// 3 before any key or certificate; one allowing 3 is personalized, its counters read (GET
// METADATA) and its new PUK read back as set without spending a try.
TEST_F(StationIT, ACardThatCannotSetItsRetriesIsTakenOnlyWithinTheProfilesTries) {
  Requests(2);
  auto fifteen = PivTool(1,
                         "-a verify-pin -P 123456 -a pin-retries --pin-retries 15 "
                         "--puk-retries 15");
  ASSERT_EQ(fifteen.exit_code, 0) << fifteen.out << fifteen.err;
  ASSERT_NE(PivTool(1, "-a status").out.find("PIN tries left:\t15"), std::string::npos);
  for (int card : {1, 2}) ASSERT_EQ(VCard(card, "fault no-set-retries").exit_code, 0);

  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("the card allows 15 PIN tries, more than the profile's 3"),
            std::string::npos)
      << st.out << st.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'failed'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials WHERE request_id IS NOT NULL"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 2);

  auto ok = Run({"station", "--profile", "employee-piv", "--reader", Reader(2), "--once"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  const auto status = PivTool(2, "-a status").out;
  EXPECT_NE(status.find("PIN tries left:\t3"), std::string::npos) << status;
  EXPECT_EQ(Trim(Sh(std::string(CERTPRESS_SOURCE_DIR
                                "/scripts/vcard 2 status | python3 -c "
                                "'import json,sys; print(json.load(sys.stdin)[\"puk_retries\"])'"))
                     .out),
            "3");
}

TEST_F(StationIT, TwoReadersPersonalizeTwoCardsAtOnce) {
  Requests(2);
  auto st = Run({"station", "--profile", "employee-piv", "--all-readers", "--once"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_EQ(testing::Occurrences(st.out, " personalized ("), 2u) << st.out;
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT serial) FROM cards WHERE state = 'personalized'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(DISTINCT request_id) FROM cards WHERE state = 'personalized'"), 2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issued'"), 2);
}

// An operator names the card (--card-serial) and the request (--request): the other card is
// left alone and the named request goes to the named card.
TEST_F(StationIT, AnOperatorNamesTheCardAndTheRequest) {
  Requests(2);
  const std::string serial2 = Serial(2);
  auto st = Run({"station", "--profile", "employee-piv", "--all-readers", "--once", "--card-serial",
                 serial2, "--request", "2"});
  ASSERT_EQ(st.exit_code, 0) << st.out << st.err;
  EXPECT_NE(st.out.find("card " + serial2), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("request 2 personalized"), std::string::npos) << st.out;
  EXPECT_NE(st.out.find("skipped"), std::string::npos) << st.out;
  EXPECT_EQ(Scalar("SELECT request_id FROM cards WHERE state = 'personalized' AND serial = '" +
                   serial2 + "'"),
            2);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE id = 1 AND state = 'approved'"), 1);
}

TEST_F(StationIT, AWrongPublicKeyFromTheCardGetsNoCertificate) {
  Requests(1);
  ASSERT_EQ(VCard(1, "fault wrong-pubkey").exit_code, 0);
  auto st = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(st.exit_code, 0);
  EXPECT_NE(st.out.find("failed"), std::string::npos) << st.out;
  EXPECT_EQ(
      Scalar(
          "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND request_id IS NOT NULL"),
      0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'approved'"), 1);
}

// The profile requires attestation chaining to the virtual cards' attestation CA: a card whose
// ATTEST is signed by another key gets no certificate; the same card without the fault does.
TEST_F(StationIT, RequiredAttestationIsVerifiedAgainstTheProfilesRoot) {
  const char* ca = std::getenv("CERTPRESS_VPIV_ATTESTATION_CA");
  ASSERT_NE(ca, nullptr);
  auto add =
      Sh("printf '\n[card.employee-piv.piv]\nattestation = \"required\"\n"
         "attestation_root = \"%s\"\n' " +
         Quote(ca) + " >> " + Quote(Path("profiles/employee-piv.toml")));
  ASSERT_EQ(add.exit_code, 0) << add.err;
  Requests(1);
  ASSERT_EQ(VCard(1, "fault bad-attestation=signature").exit_code, 0);
  auto bad = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("attestation"), std::string::npos) << bad.out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM certificates WHERE request_id IS NOT NULL"), 0);
  ASSERT_EQ(VCard(1, "fault-clear").exit_code, 0);
  ASSERT_EQ(VCard(1, "factory-reset").exit_code, 0);
  ASSERT_EQ(VCard(1, "insert").exit_code, 0);
  auto good = Run({"station", "--profile", "employee-piv", "--reader", Reader(1), "--once"});
  ASSERT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
}

TEST_F(StationIT, SigtermMidCardFinishesItAndLeavesNothingHalfRecorded) {
  Requests(1);
  // Real cards' timing: seconds per card, so the signal lands in the middle of one.
  ASSERT_EQ(VCard(1, "timing real").exit_code, 0);
  const std::string cmd =
      "exec " + cli_.CommandLine({"station", "--profile", "employee-piv", "--reader", Reader(1)});
  ASSERT_EQ(Sh("(" + cmd + " > " + Quote(Path("station.out")) + " 2>&1 & echo $! > " +
               Quote(Path("pid")) + ")")
                .exit_code,
            0);
  const std::string pid = Trim(*ReadFile(Path("pid")));
  for (int i = 0; i < 600 && Scalar("SELECT COUNT(*) FROM cards WHERE state = "
                                    "'personalizing'") < 1;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 1);
  auto term =
      Sh("kill -TERM " + pid + " && while kill -0 " + pid + " 2>/dev/null; do sleep 0.1; done");
  ASSERT_EQ(term.exit_code, 0);
  const std::string out = *ReadFile(Path("station.out"));
  EXPECT_NE(out.find("personalized ("), std::string::npos) << out;
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalizing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM requests WHERE state = 'issuing'"), 0);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM cards WHERE state = 'personalized'"), 1);
  EXPECT_EQ(Scalar("SELECT COUNT(*) FROM serials s WHERE NOT EXISTS (SELECT 1 FROM certificates "
                   "c WHERE c.issuer_id = s.issuer_id AND c.serial = s.serial) AND "
                   "s.request_id IS NOT NULL"),
            0);
}

}  // namespace
}  // namespace certpress
