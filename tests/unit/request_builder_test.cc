// Field checks and subject/SAN rendering of ra/request_builder.h.
#include "ra/request_builder.h"

#include <gtest/gtest.h>

#include <set>

#include "signer/name.h"

namespace certpress::ra {
namespace {

constexpr const char* kToml = R"(
[certificate.emp]
validity_days = 365
key_usage = ["digitalSignature"]
san_types = ["email", "dns"]

[card.emp]
token = "soft"
approvals = 1
natural_key = "employee_id"
subject = [["CN", "{given_name} {surname}"], ["OU", "{department}"], ["O", "Example"], ["C", "{country}"]]
sans = [["email", "{email}"], ["dns", "{hosts}"]]

[card.emp.fields]
given_name = { required = true, max_length = 8 }
surname = { required = true }
email = { required = true, kind = "email" }
employee_id = { required = true, pattern = "E[0-9]{3}" }
department = { }
country = { required = true, pattern = "[A-Z]{2}" }
hosts = { kind = "dns-list" }

[[card.emp.keys]]
name = "auth"
algorithm = "ec-p256"
source = "server"
certificate = "emp"
)";

class RequestBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto set = profiles::LoadProfilesFromString(kToml, "test.toml");
    ASSERT_TRUE(set.ok()) << set.status().message();
    set_ = std::move(set).value();
    auto b = RequestBuilder::Create(**set_.Card("emp"));
    ASSERT_TRUE(b.ok());
    builder_ = std::make_unique<RequestBuilder>(std::move(b).value());
  }
  Fields Good() {
    return {{"given_name", "Søren"},
            {"surname", "Kierkegaard"},
            {"email", "soren@example.org"},
            {"employee_id", "E123"},
            {"department", ""},
            {"country", "DK"},
            {"hosts", "a.example.org, b.example.org"}};
  }
  profiles::ProfileSet set_;
  std::unique_ptr<RequestBuilder> builder_;
};

TEST_F(RequestBuilderTest, RendersSubjectInOrderAndDropsEmptyAttributes) {
  FieldProblem p;
  auto r = builder_->Build(Good(), &p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->subject, "CN=Søren Kierkegaard,O=Example,C=DK");
  EXPECT_EQ(FormatNameDer(r->subject_der), r->subject);
  ASSERT_EQ(r->sans.size(), 3u);
  EXPECT_EQ(r->sans[1].value, "a.example.org");
  EXPECT_EQ(r->sans[2].value, "b.example.org");
  EXPECT_EQ(r->natural_key, "E123");
  auto back = SansFromJson(r->sans_json);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->size(), 3u);
}

// Trust issue: an optional column missing from a CSV failed every row ("refers to undeclared
// field"). Absent is empty.
TEST_F(RequestBuilderTest, AnOptionalFieldThatIsAbsentIsEmpty) {
  Fields f = Good();
  f.erase("department");
  f.erase("hosts");
  EXPECT_TRUE(builder_->Check(f).empty());
  FieldProblem p;
  auto r = builder_->Build(f, &p);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->subject, "CN=Søren Kierkegaard,O=Example,C=DK");
  EXPECT_EQ(r->sans.size(), 1u);
}

TEST_F(RequestBuilderTest, ReportsEveryBadFieldByName) {
  Fields f = Good();
  f["given_name"] = "Bartholomew";  // 11 > 8 characters
  f["email"] = "not an email";
  f["employee_id"] = "X1";
  f["surname"] = "";
  f["hosts"] = "ok.example.org,bad_host";
  f["shoe_size"] = "44";
  auto problems = builder_->Check(f);
  std::set<std::string> fields;
  for (const auto& p : problems) fields.insert(p.field);
  EXPECT_EQ(fields, (std::set<std::string>{"given_name", "email", "employee_id", "surname", "hosts",
                                           "shoe_size"}));
}

TEST_F(RequestBuilderTest, RefusesControlAndBidiCharactersWithTheirOffset) {
  Fields f = Good();
  f["surname"] =
      "Ab\xE2\x80\xAE"
      "cd";
  auto problems = builder_->Check(f);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].offset, 2u);
  EXPECT_NE(problems[0].message.find("bidirectional"), std::string::npos);
}

TEST_F(RequestBuilderTest, DnEncoderRefusalIsPinnedOnTheField) {
  // The same profile without the country pattern, so that the value reaches the DN encoder,
  // which refuses a countryName that is not two letters (RFC 5280 A.1, X.520).
  std::string toml = kToml;
  const std::string pattern = R"(country = { required = true, pattern = "[A-Z]{2}" })";
  ASSERT_NE(toml.find(pattern), std::string::npos);
  toml.replace(toml.find(pattern), pattern.size(), "country = { required = true }");
  auto set = profiles::LoadProfilesFromString(toml, "test.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto b = RequestBuilder::Create(**set->Card("emp"));
  ASSERT_TRUE(b.ok());
  Fields f = Good();
  f["country"] = "Denmark";
  EXPECT_TRUE(b->Check(f).empty());
  FieldProblem p;
  auto r = b->Build(f, &p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(p.field, "country") << r.status().message();
}

TEST(DnsAndEmailTest, Syntax) {
  EXPECT_TRUE(IsDnsName("www.example.org"));
  EXPECT_TRUE(IsDnsName("a-b.c"));
  EXPECT_FALSE(IsDnsName("-a.example"));
  EXPECT_FALSE(IsDnsName("a..b"));
  EXPECT_FALSE(IsDnsName("a_b.example"));
  EXPECT_FALSE(IsDnsName(std::string(64, 'a') + ".example"));
  EXPECT_TRUE(IsDnsName("3com.example.org"));  // digits may lead a label (RFC 1123 2.1)
  EXPECT_TRUE(IsEmailAddress("first.last+tag@example.org"));
  EXPECT_FALSE(IsEmailAddress("no-at.example.org"));
  EXPECT_FALSE(IsEmailAddress("a@b@example.org"));
  EXPECT_FALSE(IsEmailAddress("a b@example.org"));
  EXPECT_FALSE(IsEmailAddress("a@localhost"));
}

// A dNSName is a host name: not an IP address, not a number, not a loopback name (RFC 6761),
// and the refusal says which.
TEST(DnsAndEmailTest, IpAddressesNumbersAndLocalhostAreNoDnsNames) {
  const std::pair<const char*, const char*> cases[] = {
      {"192.0.2.1", "is an IP address or a number"},
      {"12345", "is an IP address or a number"},
      {"host.123", "is an IP address or a number"},
      {"localhost", "loopback name"},
      {"db.LOCALHOST", "loopback name"},
      {"2001:db8::1", "letters, digits and '-' only"},
      {"host name.example.org", "letters, digits and '-' only"},
  };
  for (const auto& [name, expect] : cases) {
    Status st = CheckDnsName(name);
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_NE(st.message().find(expect), std::string::npos) << st.message();
    EXPECT_FALSE(IsDnsName(name)) << name;
  }
}

TEST_F(RequestBuilderTest, DnsFieldsRefuseAddressesWithTheReason) {
  Fields f = Good();
  f["hosts"] = "a.example.org, 10.0.0.1";
  auto problems = builder_->Check(f);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].field, "hosts");
  EXPECT_NE(problems[0].message.find("'10.0.0.1' is an IP address"), std::string::npos)
      << problems[0].message;
}

TEST(RequestBuilderIpTest, IpListFieldsBecomeIpSans) {
  constexpr const char* kIpToml = R"(
[certificate.srv]
validity_days = 90
key_usage = ["digitalSignature"]
san_types = ["dns", "ip"]

[card.srv]
token = "csr"
approvals = 0
subject = [["CN", "{cn}"]]
sans = [["dns", "{cn}"], ["ip", "{ip}"]]

[card.srv.fields]
cn = { required = true, kind = "dns" }
ip = { kind = "ip-list" }

[[card.srv.keys]]
name = "tls"
allowed_algorithms = ["ec-p256"]
source = "requester"
certificate = "srv"
)";
  auto set = profiles::LoadProfilesFromString(kIpToml, "ip.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  auto b = RequestBuilder::Create(**set->Card("srv"));
  ASSERT_TRUE(b.ok());
  Fields bad = {{"cn", "host.example.org"}, {"ip", "192.0.2.7, host.example.org"}};
  auto problems = b->Check(bad);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].message.find("'host.example.org' is not an IP address"), std::string::npos);
  Fields good = {{"cn", "host.example.org"}, {"ip", "192.0.2.7, 2001:db8::7"}};
  EXPECT_TRUE(b->Check(good).empty());
  FieldProblem p;
  auto built = b->Build(good, &p);
  ASSERT_TRUE(built.ok()) << built.status().message();
  ASSERT_EQ(built->sans.size(), 3u);
  EXPECT_EQ(built->sans[1].type, profiles::SanType::kIp);
  EXPECT_EQ(built->sans[1].value, "192.0.2.7");
  EXPECT_EQ(built->sans[2].value, "2001:db8::7");
}

}  // namespace
}  // namespace certpress::ra
