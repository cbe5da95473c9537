// profile.cc: loading profile directories and documents. Each document is read by a Parser
// (profile_parser.h); the checks that span documents (a key's certificate profile exists, a
// name is defined once) and the content hashes are done here, once everything is read.
#include "cardprofiles/profile.h"

#include <dirent.h>
#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include "cardprofiles/profile_parser.h"
#include "common/bytes.h"

namespace certpress::profiles {

namespace {

std::array<uint8_t, 32> Sha256(const std::string& text) {
  std::array<uint8_t, 32> md{};
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr);
  return md;
}

// Finish checks cross-references and computes the content hashes once every file is read.
Status Finish(ProfileSet* set, const std::map<std::string, std::string>& canonical_certs,
              const std::map<std::string, std::string>& canonical_cards,
              const std::vector<std::pair<std::string, std::string>>& refs) {
  for (const auto& [name, where] : refs) {
    if (!set->certificates.count(name)) {
      return InvalidInput(where + ": no [certificate." + name + "] profile");
    }
  }
  for (auto& [name, card] : set->cards) {
    std::string text = "card." + name + "\n" + canonical_cards.at(name);
    std::set<std::string> certs;
    for (const auto& k : card.keys) certs.insert(k.cert_profile);
    for (const auto& c : certs) text += "certificate." + c + "\n" + canonical_certs.at(c);
    card.content_hash = Sha256(text);
  }
  return Status::Ok();
}

}  // namespace

const FieldSpec* CardProfile::Field(std::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<const CardProfile*> ProfileSet::Card(std::string_view name) const {
  auto it = cards.find(name);
  if (it != cards.end()) return &it->second;
  std::string known;
  for (const auto& [n, c] : cards) known += (known.empty() ? "" : ", ") + n;
  return NotFound("no card profile '" + std::string(name) + "' (known: " + known + ")");
}

Result<const CertProfile*> ProfileSet::Certificate(std::string_view name) const {
  auto it = certificates.find(name);
  if (it != certificates.end()) return &it->second;
  return NotFound("no certificate profile '" + std::string(name) + "'");
}

Result<std::string> RenderTemplate(std::string_view tmpl,
                                   const std::map<std::string, std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i]);
      continue;
    }
    size_t close = tmpl.find('}', i);
    if (close == std::string_view::npos) {
      return InvalidInput("template '" + std::string(tmpl) + "' has an unclosed '{'");
    }
    std::string name(tmpl.substr(i + 1, close - i - 1));
    auto it = fields.find(name);
    if (it == fields.end()) {
      return InvalidInput("template '" + std::string(tmpl) + "' refers to undeclared field '" +
                          name + "'");
    }
    out += it->second;
    i = close;
  }
  // Optional fields that are empty leave separators behind ("Alice " for "{a} {b}").
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(0, 1);
  return out;
}

Result<ProfileSet> LoadProfilesFromString(std::string_view toml, const std::string& source) {
  ProfileSet set;
  Parser p(source, &set);
  CP_RETURN_IF_ERROR(p.Parse(toml));
  CP_RETURN_IF_ERROR(Finish(&set, p.canonical_certs_, p.canonical_cards_, p.cert_refs_));
  return set;
}

Result<ProfileSet> LoadProfiles(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return NotFound("profile directory " + dir + " does not exist");
  std::vector<std::string> files;
  while (struct dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".toml") == 0) files.push_back(n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  if (files.empty()) return NotFound("profile directory " + dir + " has no *.toml files");
  ProfileSet set;
  std::map<std::string, std::string> certs, cards, cert_file, card_file;
  std::vector<std::pair<std::string, std::string>> refs;
  for (const auto& f : files) {
    const std::string path = dir + "/" + f;
    CP_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    ProfileSet one;
    Parser p(path, &one);
    CP_RETURN_IF_ERROR(p.Parse(text));
    for (auto& [name, c] : one.certificates) {
      if (cert_file.count(name)) {
        return InvalidInput(path + ": certificate." + name + ": already defined in " +
                            cert_file[name]);
      }
      cert_file[name] = path;
      set.certificates.emplace(name, std::move(c));
    }
    for (auto& [name, c] : one.cards) {
      if (card_file.count(name)) {
        return InvalidInput(path + ": card." + name + ": already defined in " + card_file[name]);
      }
      card_file[name] = path;
      set.cards.emplace(name, std::move(c));
    }
    certs.insert(p.canonical_certs_.begin(), p.canonical_certs_.end());
    cards.insert(p.canonical_cards_.begin(), p.canonical_cards_.end());
    refs.insert(refs.end(), p.cert_refs_.begin(), p.cert_refs_.end());
  }
  CP_RETURN_IF_ERROR(Finish(&set, certs, cards, refs));
  return set;
}

}  // namespace certpress::profiles
