// name_fuzz: libFuzzer target for signer/name.h (ParseName, EncodeName, FormatName).
//
// Whenever ParseName accepts the input: EncodeName's DER must parse with OpenSSL's
// d2i_X509_NAME, and OpenSSL, building the same entries into a fresh X509_NAME, must encode
// it byte for byte as we did (string types, SET OF order of multi-valued RDNs); each value
// OpenSSL reads back is the value we parsed; and FormatName's text parses back to the same
// DER.
#include <openssl/err.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "common/ossl.h"
#include "signer/name.h"

using namespace certpress;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "name_fuzz: property violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto name = ParseName(text);
  if (!name.ok()) return 0;
  auto der = EncodeName(*name);
  if (!der.ok()) return 0;  // e.g. an empty name: ParseName's result, EncodeName's rule

  const unsigned char* p = der->data();
  UniquePtr<X509_NAME> parsed(d2i_X509_NAME(nullptr, &p, static_cast<long>(der->size())));
  if (!parsed || p != der->data() + der->size()) Fail("d2i_X509_NAME rejects EncodeName's DER");

  // Rebuild entry by entry so that OpenSSL encodes afresh (a parsed name keeps its bytes).
  UniquePtr<X509_NAME> rebuilt(X509_NAME_new());
  size_t index = 0;
  int last_set = -1;
  for (int i = 0; i < X509_NAME_entry_count(parsed.get()); ++i) {
    X509_NAME_ENTRY* e = X509_NAME_get_entry(parsed.get(), i);
    int set = X509_NAME_ENTRY_set(e);
    if (!X509_NAME_add_entry(rebuilt.get(), e, -1, set == last_set ? -1 : 0)) Fail("add_entry");
    last_set = set;
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) Fail("OpenSSL cannot read a value back as UTF-8");
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    // Our RDNs hold values in the order given; the DER sorts them within an RDN, so find the
    // value among the RDN's.
    bool found = false;
    size_t seen = 0;
    for (const auto& rdn : name->rdns) {
      if (index < seen + rdn.size()) {
        for (const auto& a : rdn) found = found || a.value == value;
        break;
      }
      seen += rdn.size();
    }
    if (!found) Fail("a value OpenSSL reads back is not one we parsed");
    ++index;
  }
  unsigned char* out = nullptr;
  int len = i2d_X509_NAME(rebuilt.get(), &out);
  if (len < 0 || Bytes(out, out + len) != *der) Fail("OpenSSL encodes the name differently");
  OPENSSL_free(out);

  std::string formatted = FormatName(*name);
  auto again = ParseName(formatted);
  if (!again.ok()) Fail("FormatName's text does not parse");
  auto der2 = EncodeName(*again);
  if (!der2.ok() || *der2 != *der) Fail("FormatName then ParseName changes the name");
  ERR_clear_error();
  return 0;
}
