// lint_files.cc: reading, linting and rendering for `certpress lint` (signer/lint_files.h).
#include "signer/lint_files.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <sstream>

#include "signer/der.h"

namespace certpress {

namespace {

// DecodeBase64 decodes a PEM body (line breaks and spaces allowed); false if it is not base64.
bool DecodeBase64(std::string_view text, Bytes* out) {
  std::string b64;
  b64.reserve(text.size());
  for (char c : text) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64 += c;
  }
  if (b64.empty() || b64.size() % 4 != 0) return false;
  out->resize(b64.size() / 4 * 3);
  int n = EVP_DecodeBlock(out->data(), reinterpret_cast<const unsigned char*>(b64.data()),
                          static_cast<int>(b64.size()));
  if (n < 0) return false;
  size_t pad = b64.size() - b64.find_last_not_of('=') - 1;
  if (pad > 2) return false;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

// LooksLikeCsr tells a DER CertificationRequest from a Certificate: both are SEQUENCE {
// SEQUENCE, AlgorithmIdentifier, BIT STRING }, but a certificationRequestInfo is exactly
// version, subject, subjectPKInfo and [0] attributes (RFC 2986 4.1), while a TBSCertificate
// starts with [0] version or has at least six fields (RFC 5280 4.1).
bool LooksLikeCsr(ByteSpan der) {
  der::Reader outer(der);
  ByteSpan body, info;
  if (!outer.Read(der::kSequence, &body)) return false;
  der::Reader b(body);
  if (!b.Read(der::kSequence, &info)) return false;
  der::Reader r(info);
  int fields = 0;
  int last = -1;
  while (!r.empty()) {
    uint8_t tag;
    ByteSpan c;
    if (!r.ReadAny(&tag, &c)) return false;
    if (fields == 0 && tag != der::kInteger) return false;
    last = tag;
    ++fields;
  }
  return fields == 4 && last == der::ContextConstructed(0);
}

struct Block {
  LintTarget kind;
  std::string label;
  std::string_view body;
};

LintItem FatalItem(const std::string& file, int index, std::string detail) {
  LintItem item{file, index, {}};
  item.report.results.push_back({"cp_asn1_structure", LintStatus::kFatal, std::move(detail)});
  item.report.worst = LintStatus::kFatal;
  return item;
}

std::string_view KindName(LintTarget kind) {
  return kind == kLintCsr ? "request" : "certificate";
}

std::string AppliesTo(uint8_t bits) {
  std::string out;
  auto add = [&](LintTarget t, const char* name) {
    if (!(bits & t)) return;
    if (!out.empty()) out += ",";
    out += name;
  };
  add(kLintTbs, "tbs");
  add(kLintCert, "certificate");
  add(kLintCsr, "request");
  return out;
}

}  // namespace

Result<std::vector<LintItem>> LintFile(const std::string& path, const LintOptions& options,
                                       std::span<const std::string> only) {
  auto content = ReadFile(path);
  if (!content.ok()) return content.status();
  const std::string& text = *content;
  std::vector<LintItem> items;
  static const std::string kBegin = "-----BEGIN ";
  if (text.find(kBegin) == std::string::npos) {
    // One DER object.
    ByteSpan der = AsBytes(text);
    LintTarget kind = LooksLikeCsr(der) ? kLintCsr : kLintCert;
    items.push_back({path, 0, LintDer(kind, der, options, only)});
    return items;
  }
  size_t pos = 0;
  int index = 0;
  while ((pos = text.find(kBegin, pos)) != std::string::npos) {
    size_t label_end = text.find("-----", pos + kBegin.size());
    if (label_end == std::string::npos) break;
    std::string label = text.substr(pos + kBegin.size(), label_end - pos - kBegin.size());
    const std::string end_marker = "-----END " + label + "-----";
    size_t body_start = label_end + 5;
    size_t end = text.find(end_marker, body_start);
    if (label != "CERTIFICATE" && label != "CERTIFICATE REQUEST" &&
        label != "NEW CERTIFICATE REQUEST") {
      // Keys, CRLs and the like in a bundle are no certificates: skipped, not counted.
      pos = end == std::string::npos ? body_start : end + end_marker.size();
      continue;
    }
    const int this_index = index++;
    if (end == std::string::npos) {
      items.push_back(FatalItem(path, this_index, "PEM block " + label + " has no END line"));
      break;
    }
    Bytes der;
    if (!DecodeBase64(std::string_view(text).substr(body_start, end - body_start), &der)) {
      items.push_back(FatalItem(path, this_index, "PEM block " + label + " is not base64"));
    } else {
      LintTarget kind = label == "CERTIFICATE" ? kLintCert : kLintCsr;
      items.push_back({path, this_index, LintDer(kind, der, options, only)});
    }
    pos = end + end_marker.size();
  }
  if (items.empty()) {
    items.push_back(FatalItem(path, 0, "no PEM CERTIFICATE or CERTIFICATE REQUEST block"));
  }
  return items;
}

Result<LintOptions> LintOptionsForProfiles(
    const std::vector<const profiles::CertProfile*>& certificate_profiles, LintOptions options) {
  for (const auto* p : certificate_profiles) {
    options.max_validity_days = std::max(options.max_validity_days, p->validity_days);
    options.allow_internal_names = options.allow_internal_names || p->allow_internal_names;
    std::vector<Bytes> ekus;
    for (const auto& dotted : p->extended_key_usage) {
      CP_ASSIGN_OR_RETURN(Bytes oid, der::EncodeOid(dotted));
      ekus.push_back(std::move(oid));
    }
    options.profile_ekus.push_back(std::move(ekus));
  }
  return options;
}

std::string LintText(const std::vector<LintItem>& items) {
  std::ostringstream out;
  for (const auto& item : items) {
    out << item.file << "#" << item.index << " " << KindName(item.report.kind) << ": "
        << (item.report.subject.empty() ? "(unreadable)" : item.report.subject) << "\n";
    std::array<int, 7> counts{};
    for (const auto& r : item.report.results) {
      ++counts[static_cast<size_t>(r.status)];
      std::string status(LintStatusName(r.status));
      status.resize(8, ' ');
      out << "  " << status << r.rule;
      if (!r.detail.empty()) out << ": " << r.detail;
      out << "\n";
    }
    out << "  ";
    bool first = true;
    for (size_t s = 0; s < counts.size(); ++s) {
      if (counts[s] == 0) continue;
      out << (first ? "" : ", ") << counts[s] << " " << LintStatusName(static_cast<LintStatus>(s));
      first = false;
    }
    out << "\n";
  }
  return out.str();
}

std::string LintJson(const std::vector<LintItem>& items) {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& item : items) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array();
    for (const auto& r : item.report.results) {
      results.push_back({{"rule", std::string(r.rule)},
                         {"status", std::string(LintStatusName(r.status))},
                         {"detail", r.detail}});
    }
    all.push_back({{"file", item.file},
                   {"index", item.index},
                   {"subject", item.report.subject},
                   {"results", std::move(results)}});
  }
  // Invalid UTF-8 in a certificate's names is replaced, not allowed to abort the output.
  const auto& doc = all.size() == 1 ? all[0] : all;
  return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string LintRulesText() {
  std::ostringstream out;
  for (const auto& r : LintRules()) {
    std::string name(r.name);
    name.resize(std::max<size_t>(name.size() + 2, 52), ' ');
    std::string severity(LintStatusName(r.severity));
    severity.resize(7, ' ');
    std::string date = LintDate(r.effective);
    if (date.empty()) date = "always";
    if (r.ineffective != 0) date += ".." + LintDate(r.ineffective);
    date.resize(std::max<size_t>(date.size() + 2, 12), ' ');
    out << name << severity << date << r.source << " [" << AppliesTo(r.applies_to)
        << "]: " << r.summary << "\n";
  }
  return out.str();
}

std::string LintRulesJson() {
  nlohmann::ordered_json all = nlohmann::ordered_json::array();
  for (const auto& r : LintRules()) {
    all.push_back({{"rule", std::string(r.name)},
                   {"severity", std::string(LintStatusName(r.severity))},
                   {"source", std::string(r.source)},
                   {"effective", LintDate(r.effective)},
                   {"ineffective", LintDate(r.ineffective)},
                   {"applies_to", AppliesTo(r.applies_to)},
                   {"summary", std::string(r.summary)}});
  }
  return all.dump(2) + "\n";
}

bool LintFailed(const std::vector<LintItem>& items) {
  return std::any_of(items.begin(), items.end(),
                     [](const LintItem& i) { return i.report.worst >= LintStatus::kError; });
}

}  // namespace certpress
