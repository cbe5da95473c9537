#include "batch/csv.h"

#include <algorithm>
#include <cstdio>

#include "common/utf8.h"

namespace certpress::batch {

namespace {
constexpr size_t kBlock = 64 * 1024;
}

CsvReader::CsvReader(std::istream& in, CsvOptions options) : in_(in), options_(options) {}

bool CsvReader::Fill() {
  if (eof_) return false;
  // Keep the current record from its start (mark_), so that a malformed record can be read
  // again from its first line; a record is at most max_record_fields fields of at most
  // max_field_bytes each, so this stays bounded.
  const size_t keep = std::min(pos_, mark_);
  buf_.erase(0, keep);
  pos_ -= keep;
  if (mark_ != std::string::npos) mark_ -= keep;
  size_t old = buf_.size();
  buf_.resize(old + kBlock);
  in_.read(buf_.data() + old, static_cast<std::streamsize>(kBlock));
  size_t got = static_cast<size_t>(in_.gcount());
  buf_.resize(old + got);
  if (got == 0) eof_ = true;
  return got > 0;
}

int CsvReader::Peek() {
  if (pos_ >= buf_.size() && !Fill()) return -1;
  return static_cast<unsigned char>(buf_[pos_]);
}

int CsvReader::Get() {
  int c = Peek();
  if (c < 0) return c;
  ++pos_;
  ++bytes_read_;
  if (c == '\n') {
    ++line_;
    column_ = 1;
  } else if ((c & 0xc0) != 0x80) {
    // Columns count characters: continuation bytes of a UTF-8 sequence do not advance.
    ++column_;
  }
  return c;
}

bool CsvReader::Next(CsvRecord* record, CsvError* error) {
  record->fields.clear();
  if (at_start_) {
    at_start_ = false;
    // A UTF-8 byte order mark is not part of the first header name.
    if (Peek() == 0xef) {
      if (buf_.size() - pos_ < 3) Fill();
      if (buf_.compare(pos_, 3, "\xEF\xBB\xBF") == 0) {
        pos_ += 3;
        bytes_read_ += 3;
      }
    }
  }
  // Skip blank lines (LF or CR LF alone).
  for (;;) {
    int c = Peek();
    if (c < 0) return false;
    if (c == '\n') {
      Get();
      continue;
    }
    if (c == '\r') {
      if (pos_ + 1 >= buf_.size()) Fill();
      if (pos_ + 1 < buf_.size() && buf_[pos_ + 1] == '\n') {
        Get();
        Get();
        continue;
      }
    }
    break;
  }
  record->line = line_;
  mark_ = pos_;
  const size_t mark_line = line_, mark_column = column_, mark_bytes = bytes_read_;
  // Where the last quoted field that ran past the end of its line was opened.
  size_t spanning_line = 0, spanning_column = 0;
  // On an error, skip to the end of the physical line and report. A record that already ran
  // past its first line (a quoted field held a line break) is read again from its start and
  // only its first line is skipped: an unterminated or stray quote costs its own line, never
  // the records after it.
  auto fail = [&](size_t line, size_t column, std::string message) {
    record->fields.clear();
    if (line_ > record->line && spanning_line != 0) {
      error->line = spanning_line;
      error->column = spanning_column;
      error->message =
          "quote opened here is not closed on its line and the record it starts "
          "is malformed (" +
          message + "); reading resumes at the next line";
      pos_ = mark_;
      line_ = mark_line;
      column_ = mark_column;
      bytes_read_ = mark_bytes;
    } else {
      error->line = line;
      error->column = column;
      error->message = std::move(message);
    }
    mark_ = std::string::npos;
    for (;;) {
      int c = Get();
      if (c < 0 || c == '\n') break;
    }
    return true;
  };
  for (;;) {
    CsvField field;
    field.line = line_;
    field.column = column_;
    int c = Peek();
    if (c == '"') {
      // RFC 4180 2.5-2.7: a quoted field; "" is one quote; delimiters and line breaks are
      // data until the closing quote.
      Get();
      for (;;) {
        c = Get();
        if (c == '\n' && spanning_line == 0) {
          spanning_line = field.line;
          spanning_column = field.column;
        }
        if (c < 0) {
          return fail(field.line, field.column, "unterminated quoted field (opened here)");
        }
        if (c == '"') {
          if (Peek() != '"') break;
          Get();  // "" is one quote, and counts towards the limit like any byte
        }
        field.value.push_back(static_cast<char>(c));
        if (field.value.size() > options_.max_field_bytes) {
          // Skip the rest of the quoted field before resynchronising (on its line only).
          for (;;) {
            if (Peek() == '\n') break;
            int d = Get();
            if (d < 0) break;
            if (d == '"') {
              if (Peek() == '"') {
                Get();
                continue;
              }
              break;
            }
          }
          return fail(field.line, field.column,
                      "field longer than " + std::to_string(options_.max_field_bytes) + " bytes");
        }
      }
      c = Peek();
      if (c >= 0 && c != options_.delimiter && c != '\r' && c != '\n') {
        return fail(line_, column_, "text after the closing quote of a quoted field");
      }
    } else {
      for (;;) {
        c = Peek();
        if (c < 0 || c == options_.delimiter || c == '\n') break;
        if (c == '\r') {
          if (pos_ + 1 >= buf_.size()) Fill();
          if (pos_ + 1 >= buf_.size() || buf_[pos_ + 1] == '\n') break;
        }
        if (c == '"') {
          // RFC 4180 2.5: fields containing quotes must be quoted.
          return fail(line_, column_,
                      "quote inside an unquoted field (quote the field and "
                      "double the quote)");
        }
        Get();
        field.value.push_back(static_cast<char>(c));
        if (field.value.size() > options_.max_field_bytes) {
          return fail(field.line, field.column,
                      "field longer than " + std::to_string(options_.max_field_bytes) + " bytes");
        }
      }
    }
    record->fields.push_back(std::move(field));
    if (record->fields.size() > options_.max_record_fields) {
      return fail(line_, column_,
                  "more than " + std::to_string(options_.max_record_fields) + " fields");
    }
    c = Peek();
    if (c == options_.delimiter) {
      Get();
      continue;
    }
    record->end_line = line_;
    mark_ = std::string::npos;
    if (c == '\r') Get();
    if (Peek() == '\n') Get();
    return true;
  }
}

}  // namespace certpress::batch
