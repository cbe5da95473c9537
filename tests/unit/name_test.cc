#include "signer/name.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include "common/ossl.h"
#include "signer/der.h"

namespace certpress {
namespace {

// StringTypes lists the universal tag of each attribute value, in encoding order.
std::vector<int> StringTypes(const Bytes& der) {
  const unsigned char* p = der.data();
  UniquePtr<X509_NAME> n(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  std::vector<int> out;
  if (!n) return out;
  for (int i = 0; i < X509_NAME_entry_count(n.get()); ++i) {
    out.push_back(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n.get(), i))));
  }
  return out;
}

TEST(NameTest, ParsesRfc4514InReverseOrder) {
  auto n = ParseName("CN=Alice Example,OU=IT,O=Example Corp,C=DK");
  ASSERT_TRUE(n.ok()) << n.status().message();
  ASSERT_EQ(n->rdns.size(), 4u);
  EXPECT_EQ(AttributeShortName(n->rdns[0][0].type), "C");
  EXPECT_EQ(n->rdns[3][0].value, "Alice Example");
  EXPECT_EQ(FormatName(*n), "CN=Alice Example,OU=IT,O=Example Corp,C=DK");
}

TEST(NameTest, SlashFormKeepsOrder) {
  auto n = ParseName("/C=DK/O=Example/CN=Bob");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(FormatName(*n), "CN=Bob,O=Example,C=DK");
}

TEST(NameTest, PicksPrintableStringOnlyWhereTheAlphabetAllows) {
  auto n = ParseName("CN=Søren Kierkegaard,O=Example A/S,C=DK,emailAddress=soren@example.org");
  ASSERT_TRUE(n.ok()) << n.status().message();
  auto der = EncodeName(*n);
  ASSERT_TRUE(der.ok());
  // Encoding order: emailAddress, C, O, CN.
  EXPECT_EQ(StringTypes(*der), (std::vector<int>{V_ASN1_IA5STRING, V_ASN1_PRINTABLESTRING,
                                                 V_ASN1_PRINTABLESTRING, V_ASN1_UTF8STRING}));
}

TEST(NameTest, AmpersandAndUnderscoreAreNotPrintable) {
  EXPECT_FALSE(IsPrintableString("Risk & Audit"));
  EXPECT_FALSE(IsPrintableString("a_b"));
  EXPECT_FALSE(IsPrintableString("a@b"));
  EXPECT_TRUE(IsPrintableString("O'Brien (Legal) +1 -./:=?"));
}

// Odd names survive parse -> DER -> OpenSSL's RFC 2253 printer unchanged, escapes included.
TEST(NameTest, OddNamesRoundTripThroughOpenSsl) {
  const std::vector<std::string> names = {
      R"(CN=Fiona \"Fi\" O'Brien,O=Example,C=IE)",
      R"(CN=Smith\, John,OU=Risk\, Audit & Compliance,C=PT)",
      R"(CN=a\+b=c\;d\<e\>f,O=x)",
      R"(CN=\#hash,O=trailing space\ ,C=DE)",
      R"(CN=Günter Schmidt-Weiß,L=München,C=DE)",
      R"(CN=王 美,O=示例,C=CN)",
      R"(CN=Olúwaseun Adébáyọ̀,C=NG)",
      R"(CN=back\\slash,O=x)",
  };
  for (const auto& text : names) {
    auto n = ParseName(text);
    ASSERT_TRUE(n.ok()) << text << ": " << n.status().message();
    auto der = EncodeName(*n);
    ASSERT_TRUE(der.ok()) << text;
    EXPECT_EQ(FormatNameDer(*der), text);
    EXPECT_EQ(FormatName(*n), text);
  }
}

TEST(NameTest, HexEscapesDecodeToUtf8) {
  auto n = ParseName(R"(CN=S\C3\B8ren)");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->rdns[0][0].value, "Søren");
}

TEST(NameTest, MultiValuedRdnIsSortedAsDerSetOf) {
  auto n = ParseName("CN=Zed+UID=z1,O=Example");
  ASSERT_TRUE(n.ok()) << n.status().message();
  auto der = EncodeName(*n);
  ASSERT_TRUE(der.ok());
  // OpenSSL re-encodes what it parsed; DER order must survive byte for byte.
  const unsigned char* p = der->data();
  UniquePtr<X509_NAME> x(d2i_X509_NAME(nullptr, &p, static_cast<long>(der->size())));
  ASSERT_TRUE(x);
  unsigned char* out = nullptr;
  int len = i2d_X509_NAME(x.get(), &out);
  ASSERT_GT(len, 0);
  EXPECT_EQ(Bytes(out, out + len), *der);
  OPENSSL_free(out);
}

struct BadName {
  const char* text;
  const char* expect;
};

TEST(NameTest, BadNamesSayWhatAndWhere) {
  const BadName cases[] = {
      {"", "empty"},
      {"CN=Alice,XX=1", "unknown attribute type 'XX'"},
      {"CN=Alice,O", "expected type=value"},
      {"CN=Alice,C=Denmark", "two-letter"},
      {"CN=Alice,,O=x", "empty RDN"},
      {"CN=", "empty value"},
      {"CN=a\\", "dangling backslash"},
      {"CN=#0403", "hex-encoded"},
      {"CN=a\x01"
       "b",
       "control character"},
      {"CN=\xc3\x28", "invalid UTF-8"},
      {"CN=a\"b", "unescaped"},
      {"serialNumber=ab_12", "PrintableString"},
  };
  for (const auto& c : cases) {
    auto n = ParseName(c.text);
    ASSERT_FALSE(n.ok()) << c.text;
    EXPECT_EQ(n.status().kind(), ErrorKind::kInvalidInput);
    EXPECT_NE(n.status().message().find(c.expect), std::string::npos)
        << c.text << " -> " << n.status().message();
  }
  auto col = ParseName("CN=Alice,O=Example,ZZ=1");
  EXPECT_NE(col.status().message().find("column 20"), std::string::npos) << col.status().message();
}

// A CA name (ca create-root/create-sub --name) is held to the request fields' text rule: no
// C1 controls and no bidirectional formatting characters, which make it read as another name.
TEST(NameTest, C1ControlsAndBidiFormattingAreRefused) {
  const BadName cases[] = {
      {"CN=Issuing CA \xc2\x85,O=Example", "control character U+0085"},
      {"CN=Issuing \xe2\x80\xae"
       "AC gnitsoP,O=Example",
       "bidirectional formatting character U+202E"},
      {"O=Example \xe2\x81\xa6"
       "x\xe2\x81\xa9,CN=CA",
       "bidirectional formatting character U+2066"},
  };
  for (const auto& c : cases) {
    auto n = ParseName(c.text);
    ASSERT_FALSE(n.ok()) << c.text;
    EXPECT_NE(n.status().message().find(c.expect), std::string::npos) << n.status().message();
  }
  EXPECT_TRUE(ParseName("CN=S\xc3\xb8ren \xc3\x86r\xc3\xb8,O=Example").ok());
}

TEST(NameTest, UpperBoundsComeFromRfc5280) {
  EXPECT_TRUE(ParseName("CN=" + std::string(64, 'a')).ok());
  auto too_long = ParseName("CN=" + std::string(65, 'a'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("limit is 64"), std::string::npos);
  // Characters, not bytes: 64 two-byte characters are fine.
  std::string oe;
  for (int i = 0; i < 64; ++i) oe += "ø";
  EXPECT_TRUE(ParseName("CN=" + oe).ok());
}

}  // namespace
}  // namespace certpress
