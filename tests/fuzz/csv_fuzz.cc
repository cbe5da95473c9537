// csv_fuzz: libFuzzer target for batch/csv.h (CsvReader).
//
// The first input byte picks the options (delimiter, a small field limit or the default) and
// whether the rest is placed behind about 64 KiB of filler lines, so that the reader's block
// boundary falls inside the interesting part. Properties: the reader ends; every line and
// column it reports (records, fields, errors) is a position inside the input, columns counted
// in characters as documented; a record's end line is not before its start; bytes_read never
// exceeds the input.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "batch/csv.h"

using namespace certpress::batch;

namespace {

void Fail(const char* what, size_t line, size_t column) {
  std::fprintf(stderr, "csv_fuzz: property violated: %s (line %zu, column %zu)\n", what, line,
               column);
  std::abort();
}

// Positions maps a 1-based line to the number of characters on it (UTF-8 continuation bytes
// do not count), the line break excluded; a BOM at the start is not part of line 1.
struct Positions {
  std::vector<size_t> chars_per_line;
  explicit Positions(const std::string& s) {
    size_t start = s.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
    size_t n = 0;
    for (size_t i = start; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c == '\n') {
        chars_per_line.push_back(n);
        n = 0;
      } else if ((c & 0xc0) != 0x80) {
        ++n;
      }
    }
    chars_per_line.push_back(n);
  }
  // Inside reports whether (line, column) names a character of the input or the position
  // just after the last character of a line (an empty field at the end of a line starts there).
  bool Inside(size_t line, size_t column) const {
    return line >= 1 && line <= chars_per_line.size() && column >= 1 &&
           column <= chars_per_line[line - 1] + 1;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  CsvOptions options;
  static constexpr char kDelimiters[] = {',', ';', '\t', '|'};
  options.delimiter = kDelimiters[mode & 3];
  if (mode & 4) {
    options.max_field_bytes = 1 + (mode >> 4);
    options.max_record_fields = 1 + (mode >> 5);
  }
  std::string input;
  if (mode & 8) {
    // Filler so that the 64 KiB block boundary lands within the fuzzed bytes.
    size_t filler = 65536 - (size > 64 ? 64 : size - 1) + (mode >> 4);
    input.assign(filler, 'a');
    for (size_t i = 100; i < filler; i += 101) input[i] = '\n';
    input[filler - 1] = '\n';
  }
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);
  const Positions pos(input);

  std::istringstream in(input);
  CsvReader reader(in, options);
  CsvRecord record;
  CsvError error;
  size_t records = 0;
  for (;;) {
    error = CsvError{};
    if (!reader.Next(&record, &error)) break;
    if (++records > input.size() + 1) Fail("more records than bytes", 0, 0);
    if (!error.message.empty()) {
      if (!pos.Inside(error.line, error.column)) Fail("error outside", error.line, error.column);
      if (!record.fields.empty()) Fail("a failed record keeps fields", error.line, error.column);
      continue;
    }
    if (!pos.Inside(record.line, 1)) Fail("record outside", record.line, 1);
    if (record.end_line < record.line || !pos.Inside(record.end_line, 1)) {
      Fail("record end", record.end_line, 0);
    }
    if (record.fields.empty() || record.fields.size() > options.max_record_fields) {
      Fail("field count", record.line, record.fields.size());
    }
    for (const auto& f : record.fields) {
      if (!pos.Inside(f.line, f.column)) Fail("field outside", f.line, f.column);
      if (f.line < record.line || f.line > record.end_line) Fail("field line", f.line, f.column);
      if (f.value.size() > options.max_field_bytes) Fail("field too long", f.line, f.column);
    }
    if (reader.bytes_read() > input.size()) Fail("bytes_read", 0, reader.bytes_read());
  }
  if (reader.bytes_read() > input.size()) Fail("bytes_read", 0, reader.bytes_read());
  return 0;
}
