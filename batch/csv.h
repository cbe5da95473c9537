// csv.h: a streaming RFC 4180 CSV reader for bulk uploads. It reads from a std::istream in
// blocks, so memory stays flat whatever the file size, and reports where each field starts
// (line and column, 1-based; columns count characters, not bytes) so that every error can say
// FILE:LINE:COLUMN.
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/utf8.h"

namespace certpress::batch {

struct CsvField {
  std::string value;
  size_t line = 0;  // where the field starts
  size_t column = 0;
};

struct CsvRecord {
  std::vector<CsvField> fields;
  size_t line = 0;      // line of the record's first character
  size_t end_line = 0;  // line of its last character (quoted newlines make records span)
};

struct CsvOptions {
  char delimiter = ',';
  size_t max_field_bytes = 4096;  // longer fields are an error for that record
  size_t max_record_fields = 256;
};

// CsvError describes a record that could not be read. The reader resynchronises at the next
// line break, so one bad record never stops the rest of the file. A quoted field may hold line
// breaks (RFC 4180 2.6), so a quote left open would otherwise swallow the records after it:
// when a record fails after one of its quoted fields ran past the end of its line (no closing
// quote, text after the closing quote, a field too long, too many fields), the error is
// reported at that opening quote and reading resumes at the line after the record's first.
struct CsvError {
  size_t line = 0;
  size_t column = 0;
  std::string message;  // "unterminated quoted field", "field longer than 4096 bytes", ...
};

class CsvReader {
 public:
  CsvReader(std::istream& in, CsvOptions options = {});

  // Next reads the next record. Returns true and fills |record| for a good record; returns
  // true and fills |error| (record left empty) for a malformed one; returns false at the end
  // of input. A UTF-8 byte order mark at the start of the file is skipped. Both CRLF and LF
  // end records; CR or LF inside a quoted field are kept as they are. Blank lines are
  // skipped. Quotes follow RFC 4180 section 2: a field that starts with '"' is quoted, '""'
  // inside it is one '"'; a '"' inside an unquoted field, or text after a closing quote,
  // is an error.
  bool Next(CsvRecord* record, CsvError* error);

  // Bytes consumed so far (for progress bars).
  size_t bytes_read() const { return bytes_read_; }

 private:
  bool Fill();
  int Peek();
  int Get();

  std::istream& in_;
  CsvOptions options_;
  std::string buf_;
  size_t pos_ = 0;
  size_t bytes_read_ = 0;
  size_t line_ = 1;
  size_t column_ = 1;                // of the next character
  size_t mark_ = std::string::npos;  // start of the record being read, in buf_
  bool at_start_ = true;
  bool eof_ = false;
};

}  // namespace certpress::batch
