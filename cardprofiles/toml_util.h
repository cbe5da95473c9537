// toml_util.h: checked reading of a TOML document (toml++), internal to cardprofiles. Every
// value is read through a TomlReader, which rejects unknown keys and values of the wrong type
// and says where: "FILE:LINE:COLUMN: key.path: reason", the form docs/ARCHITECTURE.md
// ("Profiles") promises profile authors.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "common/status.h"

namespace certpress::profiles {

// A string read from an array, with its node so that a later check can point at it.
using LocatedString = std::pair<std::string, const toml::node*>;
// A [name, template] pair read from an array of pairs, with the node of the pair.
using LocatedPair = std::tuple<std::string, std::string, const toml::node*>;

// TomlReader reads the tables of one TOML document named |source| (a file path, or a name
// for messages). In every method |path| is the dotted key path of |t| ("card.k"), and a
// missing required key is reported at |t|.
class TomlReader {
 public:
  explicit TomlReader(std::string source) : source_(std::move(source)) {}

  const std::string& source() const { return source_; }

  // Parse parses |text| into |out|. A syntax error is "FILE:LINE:COLUMN: description".
  [[nodiscard]] Status Parse(std::string_view text, toml::table* out) const;

  // Where is the "FILE:LINE:COLUMN: " prefix of |n|'s position.
  std::string Where(const toml::node& n) const;
  // Error is an invalid-input Status "FILE:LINE:COLUMN: PATH: WHAT" at |n|.
  Status Error(const toml::node& n, const std::string& path, const std::string& what) const;

  // KnownKeys fails at the first key of |t| not in |allowed|, pointing at the key itself and
  // listing |allowed| in the order given.
  [[nodiscard]] Status KnownKeys(const toml::table& t, const std::string& path,
                                 std::initializer_list<std::string_view> allowed) const;

  // Str, Int and Bool read |key| of |t|: |fallback| when it is absent and not |required|.
  Result<std::string> Str(const toml::table& t, std::string_view key, const std::string& path,
                          bool required, std::string fallback = "") const;
  Result<int64_t> Int(const toml::table& t, std::string_view key, const std::string& path,
                      bool required, int64_t fallback) const;
  Result<bool> Bool(const toml::table& t, std::string_view key, const std::string& path,
                    bool fallback) const;
  // ArrayAt finds the array |key| of |t| (|p| is its path for messages, |what| what it must
  // be): null when absent and not |required|.
  Result<const toml::array*> ArrayAt(const toml::table& t, std::string_view key,
                                     const std::string& p, bool required, const char* what) const;
  // Strings reads an array of strings; empty when absent and not |required|.
  Result<std::vector<LocatedString>> Strings(const toml::table& t, std::string_view key,
                                             const std::string& path, bool required) const;
  // Pairs reads an array of [name, template] string pairs ([["CN", "{given_name}"], ...]);
  // empty when absent and not |required|.
  Result<std::vector<LocatedPair>> Pairs(const toml::table& t, std::string_view key,
                                         const std::string& path, bool required) const;

  // Canonical is |t| written back as TOML: the same for any formatting of the same content.
  static std::string Canonical(const toml::table& t);

 private:
  std::string source_;
};

}  // namespace certpress::profiles
