// multipart_fuzz: libFuzzer target for web/multipart.h (MultipartBoundary, ParseMultipart), the
// reader of the application form's file uploads.
//
// The input's first line is the Content-Type header value, the rest the body. Properties: the
// boundary, when accepted, is 1 to 70 bchars; a parsed body has at most max_parts parts; no
// part's content holds the delimiter; every part's content occurs in the body; and the parts,
// written out again as a multipart body (names and file names quoted), read back to the same
// parts.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "web/multipart.h"

using namespace certpress::web;

namespace {

void Fail(const char* what) {
  std::fprintf(stderr, "multipart_fuzz: property violated: %s\n", what);
  std::abort();
}

std::string Quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view type = in.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  auto boundary = MultipartBoundary(type);
  std::string b;
  if (boundary.ok()) {
    b = *boundary;
    if (b.empty() || b.size() > 70 || b.back() == ' ') Fail("accepted a bad boundary");
  } else {
    // Still read the body, with a boundary taken from the input's start.
    b = std::string(type.substr(0, 70));
    if (b.empty()) b = "b";
  }
  MultipartLimits limits;
  limits.max_parts = 8;
  auto parts = ParseMultipart(body, b, limits);
  if (!parts.ok()) return 0;
  if (parts->size() > limits.max_parts) Fail("more parts than the limit");
  const std::string delimiter = "\r\n--" + b;
  std::string again = "--" + b;
  for (const auto& [name, part] : *parts) {
    if (name.empty()) Fail("a part without a name");
    if (part.data.find(delimiter) != std::string::npos)
      Fail("a part's content holds the delimiter");
    if (body.find(part.data) == std::string_view::npos) Fail("a part's content is not in the body");
    if (!part.is_file && !part.filename.empty()) Fail("a file name on a plain field");
    again += "\r\nContent-Disposition: form-data; name=" + Quoted(name);
    if (part.is_file) again += "; filename=" + Quoted(part.filename);
    if (!part.content_type.empty()) again += "\r\nContent-Type: " + part.content_type;
    again += "\r\n\r\n" + part.data + delimiter;
  }
  again += "--\r\n";
  MultipartLimits roomy;
  roomy.max_part_header_bytes = 1 << 20;
  auto reread = ParseMultipart(again, b, roomy);
  if (!reread.ok()) {
    std::fprintf(stderr, "%s\n", reread.status().message().c_str());
    Fail("the parts written out again do not parse");
  }
  if (reread->size() != parts->size()) Fail("the parts written out again are not as many");
  for (const auto& [name, part] : *parts) {
    auto it = reread->find(name);
    if (it == reread->end() || it->second.data != part.data ||
        it->second.filename != part.filename || it->second.is_file != part.is_file ||
        it->second.content_type != part.content_type) {
      Fail("a part written out again reads differently");
    }
  }
  return 0;
}
