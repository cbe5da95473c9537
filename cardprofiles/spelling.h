// spelling.h: how an enum is spelled in profiles and on the command line. Each enum has one
// table of rows { value, name, ... }; these helpers parse, name and list from that table, so
// the accepted names and the error text that lists them cannot drift apart.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace certpress {

// Spelling is the row of a table that holds nothing but the spelling.
template <class E>
struct Spelling {
  E value;
  std::string_view name;
};

// FromName returns the value whose row is spelled |name|, or nothing.
template <class Row, size_t N>
constexpr std::optional<decltype(Row::value)> FromName(const Row (&table)[N],
                                                       std::string_view name) {
  for (const auto& row : table) {
    if (row.name == name) return row.value;
  }
  return std::nullopt;
}

// NameOf returns the spelling of |value|, or "?" for a value without a row.
template <class Row, size_t N>
constexpr std::string_view NameOf(const Row (&table)[N], decltype(Row::value) value) {
  for (const auto& row : table) {
    if (row.value == value) return row.name;
  }
  return "?";
}

// NameList lists the spellings in table order: "a, b or c".
template <class Row, size_t N>
std::string NameList(const Row (&table)[N]) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += table[i].name;
  }
  return out;
}

}  // namespace certpress
