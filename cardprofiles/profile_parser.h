// profile_parser.h: the reader of one profile document, internal to cardprofiles. Parse reads
// the [certificate.NAME] tables (profile_parser.cc) and the [card.NAME] tables
// (profile_card.cc) into a ProfileSet; profile.cc then checks the references between
// documents and computes the content hashes.
#pragma once

#include <toml++/toml.h>

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cardprofiles/profile.h"
#include "cardprofiles/toml_util.h"
#include "common/status.h"

namespace certpress::profiles {

// Probe maps every declared field of |c| to a value, so that rendering a template finds the
// references to undeclared ones.
std::map<std::string, std::string> Probe(const CardProfile& c);

// Parser reads one TOML document into a ProfileSet, keeping every error's location.
class Parser {
 public:
  Parser(std::string source, ProfileSet* out) : toml_(std::move(source)), out_(out) {}

  // Parse reads |text| into the ProfileSet given at construction and stops at the first error.
  [[nodiscard]] Status Parse(std::string_view text);

  // What Parse leaves for the checks across documents: the canonical TOML of each table read,
  // by name, and each certificate profile a key names with the location of the reference.
  std::map<std::string, std::string> canonical_certs_, canonical_cards_;
  std::vector<std::pair<std::string, std::string>> cert_refs_;  // name, location

 private:
  Status ParseCertificate(const std::string& name, const toml::table& t, const std::string& path);

  // A [card.NAME] table: ParseCard checks its keys and calls one function per key or
  // sub-table below, in the order in which later ones depend on earlier ones.
  Status ParseCard(const std::string& name, const toml::table& t, const std::string& path);
  Status ParseCas(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseToken(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseApprovals(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseDelivery(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseActivation(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseFields(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status CheckNaturalKey(const toml::table& t, const std::string& path, const CardProfile& c) const;
  Status ParseSubject(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseSans(const toml::table& t, const std::string& path, CardProfile* c) const;
  Status ParseKeys(const toml::table& t, const std::string& path, CardProfile* c);
  // [card.NAME.letter]: the PIN letter template (profile_letter.cc).
  Status ParseLetter(const toml::table& t, const std::string& path, CardProfile* c) const;
  // One [[card.NAME.keys]] entry, in parts; |kn| is the entry, |kpath| its path.
  Status ParseKeySource(const toml::table& kt, const std::string& kpath, TokenKind token,
                        KeySpec* k) const;
  Status ParseKeyAlgorithm(const toml::node& kn, const toml::table& kt, const std::string& kpath,
                           KeySpec* k) const;
  Status ParseKeySlot(const toml::node& kn, const toml::table& kt, const std::string& kpath,
                      TokenKind token, std::set<std::string>* slots, KeySpec* k) const;

  TomlReader toml_;
  ProfileSet* out_;
};

}  // namespace certpress::profiles
