// Card and certificate profiles from TOML (cardprofiles/profile.h) and the key type and PIV
// slot tables (cardprofiles/key_types.h).
#include "cardprofiles/profile.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>
#include <optional>
#include <utility>

#include "cardprofiles/key_types.h"
#include "common/bytes.h"

namespace certpress::profiles {
namespace {

constexpr const char* kBase = R"([certificate.c]
validity_days = 365
key_usage = ["digitalSignature"]

[card.k]
token = "soft"
approvals = 1
subject = [["CN", "{name}"]]
[card.k.fields]
name = { required = true }
[[card.k.keys]]
name = "auth"
algorithm = "ec-p256"
source = "server"
certificate = "c"
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(ProfileTest, ShippedProfilesLoad) {
  auto set = LoadProfiles(CERTPRESS_SOURCE_DIR "/profiles");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto soft = set->Card("employee-soft");
  ASSERT_TRUE(soft.ok());
  EXPECT_EQ((*soft)->token, TokenKind::kSoft);
  EXPECT_EQ((*soft)->approvals, 1);
  EXPECT_EQ((*soft)->keys[0].algorithm, "ec-p256");
  EXPECT_NE((*soft)->content_hash, (std::array<uint8_t, 32>{}));
  auto piv = set->Card("employee-piv");
  ASSERT_TRUE(piv.ok());
  EXPECT_EQ((*piv)->approvals, 2);
  ASSERT_EQ((*piv)->keys.size(), 3u);
  EXPECT_EQ((*piv)->keys[0].piv_slot, "9a");
  EXPECT_EQ((*piv)->keys[1].piv_slot, "9c");
  EXPECT_EQ((*piv)->keys[2].piv_slot, "9d");
  auto tls = set->Card("tls-server");
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ((*tls)->token, TokenKind::kCsr);
  EXPECT_EQ((*tls)->keys[0].allowed_algorithms.size(), 5u);
  // Both employee profiles take the sample CSV's columns.
  for (const char* col : {"given_name", "surname", "email", "employee_id", "department",
                          "address_line1", "address_line2", "postal_code", "city", "country"}) {
    EXPECT_NE((*soft)->Field(col), nullptr) << col;
    EXPECT_NE((*piv)->Field(col), nullptr) << col;
  }
  auto missing = set->Card("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("known: employee-piv, employee-soft, tls-server"),
            std::string::npos);
}

// `cas` lists the CAs that may sign; `ca` is the default among them.
TEST(ProfileTest, CasListTheCasThatMaySignAndCaIsTheDefault) {
  auto only_ca = LoadProfilesFromString(
      Replace(kBase, "approvals = 1", "approvals = 1\nca = \"issuing\""), "t.toml");
  ASSERT_TRUE(only_ca.ok()) << only_ca.status().message();
  EXPECT_EQ((*only_ca->Card("k"))->cas, std::vector<std::string>{"issuing"});
  auto both = LoadProfilesFromString(
      Replace(kBase, "approvals = 1", "approvals = 1\nca = \"b\"\ncas = [\"a\", \"b\"]"), "t.toml");
  ASSERT_TRUE(both.ok()) << both.status().message();
  EXPECT_EQ((*both->Card("k"))->ca, "b");
  EXPECT_EQ((*both->Card("k"))->cas, (std::vector<std::string>{"a", "b"}));
  auto one = LoadProfilesFromString(Replace(kBase, "approvals = 1", "approvals = 1\ncas = [\"a\"]"),
                                    "t.toml");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ((*one->Card("k"))->ca, "a");
  auto shipped = LoadProfiles(CERTPRESS_SOURCE_DIR "/profiles");
  ASSERT_TRUE(shipped.ok());
  for (const auto& [name, card] : shipped->cards) {
    // tls-server-internal is the web server's own, signed by the CA `certpress serve` makes.
    const std::string want = name == "tls-server-internal" ? "certpress-web" : "demo-issuing";
    EXPECT_EQ(card.cas, std::vector<std::string>{want}) << name;
  }
}

TEST(ProfileTest, ArchiveKeysIsOffUnlessTheProfileSaysSo) {
  auto plain = LoadProfilesFromString(kBase, "t.toml");
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_FALSE((*plain->Card("k"))->archive_keys);
  auto kept = LoadProfilesFromString(
      Replace(kBase, "approvals = 1", "approvals = 1\narchive_keys = true"), "t.toml");
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_TRUE((*kept->Card("k"))->archive_keys);
  // It is part of what a request pins: keeping keys or not changes what an issue means.
  EXPECT_NE((*plain->Card("k"))->content_hash, (*kept->Card("k"))->content_hash);
  auto bad = LoadProfilesFromString(
      Replace(kBase, "approvals = 1", "approvals = 1\narchive_keys = \"yes\""), "t.toml");
  EXPECT_FALSE(bad.ok());
}

struct Bad {
  std::string toml;
  std::string expect;
};

TEST(ProfileTest, ErrorsSayFileLineColumnAndKey) {
  const std::vector<Bad> cases = {
      {Replace(kBase, "approvals = 1", "approvals = 1\napprovers = 2"),
       "t.toml:8:1: card.k.approvers: unknown key"},
      {Replace(kBase, "approvals = 1", "approvals = 3"),
       "t.toml:7:13: card.k.approvals: must be 0, 1 or 2"},
      {Replace(kBase, "approvals = 1", "approvals = \"one\""),
       "card.k.approvals: must be an integer"},
      {Replace(kBase, "certificate = \"c\"", "certificate = \"zzz\""),
       "t.toml:15:15: card.k.keys[0].certificate: no [certificate.zzz] profile"},
      {Replace(kBase, "[\"digitalSignature\"]", "[\"digitalSignatures\"]"),
       "t.toml:3:14: certificate.c.key_usage: unknown key usage 'digitalSignatures'"},
      {Replace(kBase, "{name}", "{nmae}"),
       "card.k.subject: template '{nmae}' refers to undeclared field 'nmae'"},
      {Replace(kBase, "name = { required = true }",
               "name = { required = true, pattern = \"[a-\" }"),
       "card.k.fields.name.pattern: is not a valid regular expression"},
      // A PIV profile's server-made (archived) key goes to the key-management slot only.
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"server\"\npiv_slot = \"9a\""),
       "only the key-management slot 9d takes a server-made (archived) key"},
      // ... and only where the profile archives it (escrow is why the server makes it).
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"server\"\npiv_slot = \"9d\""),
       "card.k.keys.auth: a server-made card key needs archive_keys = true"},
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"requester\"\npiv_slot = \"9a\""),
       "keys[0].source: a piv profile's keys come from the card"},
      // [card.NAME.piv]: FIPS 201-3's six-digit minimum, and attestation needs its root.
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"card\"\npiv_slot = \"9a\"") +
           "\n[card.k.piv]\npin_length = 5\n",
       "card.k.piv.pin_length: must be 6 to 8"},
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"card\"\npiv_slot = \"9a\"") +
           "\n[card.k.piv]\nattestation = \"required\"\n",
       "attestation = \"required\" needs attestation_root"},
      {std::string(kBase) + "\n[card.k.piv]\npin_length = 6\n",
       "card.k.piv: only for token = \"piv\""},
      {Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""), "source = \"server\"",
               "source = \"card\""),
       "card.k.keys[0].piv_slot: is required for piv profiles"},
      {Replace(kBase, "source = \"server\"", "source = \"card\""),
       "a soft profile's keys come from the server, not the card"},
      {Replace(kBase, "algorithm = \"ec-p256\"", "algorithm = \"ec-p521\""),
       "unknown key type 'ec-p521'"},
      {Replace(kBase, "[\"CN\", \"{name}\"]", "[\"Country\", \"{name}\"]"),
       "unknown attribute 'Country'"},
      {Replace(kBase, "token = \"soft\"", "token = \"smartcard\""),
       "t.toml:6:9: card.k.token: must be soft, piv or csr"},
      {Replace(kBase, "approvals = 1", "approvals = 1\ndelivery = \"post\""),
       "t.toml:8:12: card.k.delivery: must be activation-email, station or none"},
      {Replace(kBase, "name = { required = true }", "name = { required = true, kind = \"url\" }"),
       "card.k.fields.name.kind: must be text, email, dns, dns-list or ip-list"},
      {Replace(kBase, "approvals = 1", "approvals = 1\nca = \"root\"\ncas = [\"issuing\"]"),
       "t.toml:8:6: card.k.ca: CA 'root' is not among cas"},
      {Replace(kBase, "approvals = 1", "approvals = 1\ncas = [\"a\", \"a\"]"),
       "card.k.cas: CA 'a' is listed twice"},
      {Replace(kBase, "approvals = 1", "approvals = 1\ncas = []"),
       "card.k.cas: must name at least one CA"},
      {Replace(kBase, "source = \"server\"", "source = \"hsm\""),
       "t.toml:14:10: card.k.keys[0].source: must be server, card or requester"},
      {"[card.x\n", "t.toml:1:"},
      // Found by profile_fuzz (corpus/profile_fuzz/regex-count-overflow.toml): std::regex
      // overflows on such counts (undefined behaviour inside libstdc++).
      {Replace(kBase, "name = { required = true }",
               "name = { required = true, pattern = \"a{99999999999999999999}\" }"),
       "card.k.fields.name.pattern: has a repetition count or back-reference above 4096"},
      {Replace(kBase, "name = { required = true }",
               "name = { required = true, pattern = \"(a)\\\\99999999999999999999\" }"),
       "card.k.fields.name.pattern: has a repetition count or back-reference above 4096"},
  };
  for (const auto& c : cases) {
    auto set = LoadProfilesFromString(c.toml, "t.toml");
    ASSERT_FALSE(set.ok()) << c.expect;
    EXPECT_NE(set.status().message().find(c.expect), std::string::npos)
        << "want: " << c.expect << "\n got: " << set.status().message();
  }
}

// The messages that list key types and PIV slots come from cardprofiles/key_types.h; they
// read exactly as they did when profile.cc spelled the names itself.
TEST(ProfileTest, KeyTypeAndSlotErrorsListTheNames) {
  const std::string piv = Replace(Replace(kBase, "token = \"soft\"", "token = \"piv\""),
                                  "source = \"server\"", "source = \"card\"\npiv_slot = \"9a\"");
  const std::string csr =
      Replace(Replace(Replace(kBase, "token = \"soft\"", "token = \"csr\""), "source = \"server\"",
                      "source = \"requester\""),
              "algorithm = \"ec-p256\"", "allowed_algorithms = [\"ec-p256\", \"ec-p521\"]");
  const std::vector<Bad> cases = {
      {Replace(kBase, "algorithm = \"ec-p256\"", "algorithm = \"ec-p521\""),
       "t.toml:13:13: card.k.keys[0].algorithm: unknown key type 'ec-p521' (expected ec-p256, "
       "ec-p384, rsa-2048, rsa-3072 or rsa-4096)"},
      {csr, "t.toml:13:34: card.k.keys[0].allowed_algorithms: unknown key type 'ec-p521'"},
      {Replace(piv, "piv_slot = \"9a\"", "piv_slot = \"9b\""),
       "t.toml:15:12: card.k.keys[0].piv_slot: must be 9a, 9c, 9d or 9e"},
      {piv + "[[card.k.keys]]\nname = \"sig\"\nalgorithm = \"ec-p256\"\nsource = \"card\"\n"
             "certificate = \"c\"\npiv_slot = \"9a\"\n",
       "t.toml:22:12: card.k.keys[1].piv_slot: slot 9a is used twice"},
  };
  for (const auto& c : cases) {
    auto set = LoadProfilesFromString(c.toml, "t.toml");
    ASSERT_FALSE(set.ok()) << c.expect;
    EXPECT_EQ(set.status().message(), c.expect);
  }
}

TEST(ProfileTest, ContentHashIgnoresFormattingAndFollowsTheCertificateProfile) {
  auto a = LoadProfilesFromString(kBase, "a.toml");
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = LoadProfilesFromString(
      "# a comment\n" + Replace(kBase, "approvals = 1", "approvals   =   1  # same"), "b.toml");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*a->Card("k"))->content_hash, (*b->Card("k"))->content_hash);
  auto c = LoadProfilesFromString(Replace(kBase, "validity_days = 365", "validity_days = 366"),
                                  "c.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_NE((*a->Card("k"))->content_hash, (*c->Card("k"))->content_hash);
}

// Trust issue: editing a profile's description failed every approved request of it. The hash
// a request pins covers what gets issued only.
TEST(ProfileTest, ContentHashIgnoresTheDescriptionButNotAKeyUsage) {
  const std::string described =
      Replace(kBase, "token = \"soft\"", "description = \"Soft\"\ntoken = \"soft\"");
  auto a = LoadProfilesFromString(described, "a.toml");
  ASSERT_TRUE(a.ok()) << a.status().message();
  auto b = LoadProfilesFromString(
      Replace(described, "description = \"Soft\"", "description = \"Soft, renamed\""), "b.toml");
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ((*a->Card("k"))->content_hash, (*b->Card("k"))->content_hash);
  auto none = LoadProfilesFromString(kBase, "n.toml");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*a->Card("k"))->content_hash, (*none->Card("k"))->content_hash);
  auto c =
      LoadProfilesFromString(Replace(described, "key_usage = [\"digitalSignature\"]",
                                     "key_usage = [\"digitalSignature\", \"keyEncipherment\"]"),
                             "c.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_NE((*a->Card("k"))->content_hash, (*c->Card("k"))->content_hash);
}

// [card.NAME.activation] language: the pages' and the mail's language; its wording (language,
// subject, text, html) may change without failing approved requests, its policy may not.
TEST(ProfileTest, ActivationLanguageIsParsedAndLeftOutOfTheHashWithTheMailWording) {
  const std::string act =
      Replace(kBase, "approvals = 1", "approvals = 1\ndelivery = \"activation-email\"") +
      "\n[card.k.activation]\nrecipient = \"{name}\"\n";
  auto en = LoadProfilesFromString(act, "en.toml");
  ASSERT_TRUE(en.ok()) << en.status().message();
  EXPECT_EQ((*en->Card("k"))->activation.language, Lang::kEn);
  auto de =
      LoadProfilesFromString(act + "language = \"de\"\nsubject = \"Hallo {name}\"\n", "de.toml");
  ASSERT_TRUE(de.ok()) << de.status().message();
  EXPECT_EQ((*de->Card("k"))->activation.language, Lang::kDe);
  EXPECT_EQ((*de->Card("k"))->activation.mail_subject, "Hallo {name}");
  EXPECT_EQ((*en->Card("k"))->content_hash, (*de->Card("k"))->content_hash);
  auto fr = LoadProfilesFromString(act + "language = \"fr\"\n", "fr.toml");
  ASSERT_TRUE(fr.ok()) << fr.status().message();
  EXPECT_EQ((*fr->Card("k"))->activation.language, Lang::kFr);
  // What the activation does is hashed: its validity.
  auto longer = LoadProfilesFromString(act + "validity_hours = 24\n", "v.toml");
  ASSERT_TRUE(longer.ok()) << longer.status().message();
  EXPECT_NE((*en->Card("k"))->content_hash, (*longer->Card("k"))->content_hash);

  auto es = LoadProfilesFromString(act + "language = \"es\"\n", "t.toml");
  ASSERT_FALSE(es.ok());
  EXPECT_NE(es.status().message().find(
                "t.toml:20:12: card.k.activation.language: must be en, de or fr, not 'es'"),
            std::string::npos)
      << es.status().message();
  auto num = LoadProfilesFromString(act + "language = 7\n", "t.toml");
  ASSERT_FALSE(num.ok());
  EXPECT_NE(num.status().message().find("card.k.activation.language"), std::string::npos)
      << num.status().message();
}

TEST(ProfileTest, DuplicateNamesAcrossFilesNameBothFiles) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("cp-prof-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ASSERT_TRUE(WriteFile((dir / "a.toml").string(), kBase).ok());
  ASSERT_TRUE(WriteFile((dir / "b.toml").string(),
                        "[certificate.c]\nvalidity_days = 1\nkey_usage = [\"digitalSignature\"]\n")
                  .ok());
  auto set = LoadProfiles(dir.string());
  fs::remove_all(dir);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.status().message().find("b.toml: certificate.c: already defined in"),
            std::string::npos)
      << set.status().message();
  EXPECT_NE(set.status().message().find("a.toml"), std::string::npos);
}

TEST(KeyTypesTest, EveryNameRoundTrips) {
  // The names profiles, the CLI and the cas table use, written out here, not read from the table.
  const std::pair<const char*, int> want[] = {
      {"ec-p256", 0}, {"ec-p384", 0}, {"rsa-2048", 2048}, {"rsa-3072", 3072}, {"rsa-4096", 4096}};
  ASSERT_EQ(std::size(kKeyTypes), std::size(want));
  for (const auto& [name, bits] : want) {
    SCOPED_TRACE(name);
    auto type = ParseKeyType(name);
    ASSERT_TRUE(type.ok());
    EXPECT_EQ(FindKeyType(name), *type);
    EXPECT_EQ(KeyTypeName(*type), name);
    EXPECT_EQ(RsaBits(*type), bits);
    EXPECT_EQ(IsEc(*type), bits == 0);
  }
  EXPECT_EQ(KeyTypeNames(), "ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096");
}

TEST(KeyTypesTest, UnknownNameErrorListsTheNames) {
  for (const char* name : {"ec-p521", "EC-P256", "rsa-1024", ""}) {
    EXPECT_EQ(FindKeyType(name), std::nullopt) << name;
    auto bad = ParseKeyType(name);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.status().kind(), ErrorKind::kInvalidInput);
    EXPECT_EQ(bad.status().message(),
              "unknown key type '" + std::string(name) +
                  "' (expected ec-p256, ec-p384, rsa-2048, rsa-3072 or rsa-4096)");
  }
}

TEST(PivSlotsTest, NamesKeyReferencesAndCertificateTags) {
  // SP 800-73-4 Part 1: the key reference of each slot and the tag of the data object that
  // holds its certificate.
  struct Want {
    PivSlot slot;
    const char* name;
    uint8_t key_reference;
    uint32_t certificate_tag;
  };
  const Want want[] = {{PivSlot::kAuthentication, "9a", 0x9a, 0x5fc105},
                       {PivSlot::kSignature, "9c", 0x9c, 0x5fc10a},
                       {PivSlot::kKeyManagement, "9d", 0x9d, 0x5fc10b},
                       {PivSlot::kCardAuthentication, "9e", 0x9e, 0x5fc101}};
  ASSERT_EQ(std::size(kPivSlots), std::size(want));
  for (const auto& w : want) {
    SCOPED_TRACE(w.name);
    EXPECT_EQ(FindPivSlot(w.name), w.slot);
    EXPECT_EQ(PivSlotName(w.slot), w.name);
    EXPECT_EQ(PivKeyReference(w.slot), w.key_reference);
    EXPECT_EQ(PivCertificateTag(w.slot), w.certificate_tag);
  }
  // 9B is the card management key, not a slot a profile fills.
  for (const char* name : {"9b", "9A", "82", ""}) EXPECT_EQ(FindPivSlot(name), std::nullopt);
  EXPECT_EQ(PivSlotNames(), "9a, 9c, 9d or 9e");
}

TEST(ProfileTest, RenderTemplate) {
  std::map<std::string, std::string> f = {{"a", "Alice"}, {"b", ""}};
  EXPECT_EQ(*RenderTemplate("{a} {b}", f), "Alice");
  EXPECT_EQ(*RenderTemplate("x-{a}-y", f), "x-Alice-y");
  EXPECT_FALSE(RenderTemplate("{c}", f).ok());
  EXPECT_FALSE(RenderTemplate("{a", f).ok());
}

}  // namespace
}  // namespace certpress::profiles
