#include "ra/request_builder.h"

#include <arpa/inet.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "ca/sans.h"
#include "common/utf8.h"
#include "signer/name.h"

namespace certpress::ra {

namespace {

std::vector<std::string> SplitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    std::string_view item = s.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

// FirstReference returns the first {field} named in a template, for error attribution.
std::string FirstReference(std::string_view tmpl) {
  size_t open = tmpl.find('{');
  size_t close = tmpl.find('}', open);
  if (open == std::string_view::npos || close == std::string_view::npos) return "";
  return std::string(tmpl.substr(open + 1, close - open - 1));
}

}  // namespace

Status CheckDnsName(std::string_view s) {
  const std::string q = "'" + std::string(s) + "'";
  if (s.empty() || s.size() > 253)
    return InvalidInput(q + " is not a DNS name (1 to 253 characters)");
  size_t label = 0, start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') {
        return InvalidInput(q + " is not a DNS name (an empty label or one ending in '-')");
      }
      label = 0;
      start = i + 1;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              (c == '-' && label > 0);
    if (!ok) {
      return InvalidInput(q + " is not a DNS name (letters, digits and '-' only, RFC 1123)");
    }
    if (++label > 63) return InvalidInput(q + " is not a DNS name (a label over 63 characters)");
  }
  if (label == 0 || s.back() == '-') {
    return InvalidInput(q + " is not a DNS name (an empty label or one ending in '-')");
  }
  std::string_view last = s.substr(start);
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return InvalidInput(q + " is an IP address or a number, not a DNS name");
  }
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost" || (lower.size() > 10 && lower.ends_with(".localhost"))) {
    return InvalidInput(q + " is a loopback name (RFC 6761 6.3), not a DNS name to certify");
  }
  return Status::Ok();
}

bool IsDnsName(std::string_view s) {
  return CheckDnsName(s).ok();
}

bool IsIpAddress(std::string_view s) {
  std::string z(s);
  uint8_t buf[16];
  return inet_pton(AF_INET, z.c_str(), buf) == 1 || inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

bool IsEmailAddress(std::string_view s) {
  size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || s.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : s.substr(0, at)) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '(' || c == ')' || c == ',' || c == ':' ||
        c == ';' || c == '<' || c == '>' || c == '[' || c == ']' || c == '\\') {
      return false;
    }
  }
  std::string_view domain = s.substr(at + 1);
  return domain.find('.') != std::string_view::npos && IsDnsName(domain);
}

std::string SansToJson(const std::vector<SubjectAltName>& sans) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& s : sans) j.push_back({profiles::SanTypeName(s.type), s.value});
  return j.dump();
}

store::NewRequest NewRequestRow(const profiles::CardProfile& profile, int64_t ca_id,
                                BuiltRequest built) {
  store::NewRequest r;
  r.profile = profile.name;
  r.profile_hash = profile.content_hash;
  r.approvals_needed = profile.approvals;
  r.ca_id = ca_id;
  r.subject = std::move(built.subject);
  r.subject_der = std::move(built.subject_der);
  r.sans_json = std::move(built.sans_json);
  r.fields_json = std::move(built.fields_json);
  return r;
}

Result<std::vector<SubjectAltName>> SansFromJson(std::string_view json) {
  return ca::SansFromJson(json);
}

Result<RequestBuilder> RequestBuilder::Create(const profiles::CardProfile& profile) {
  RequestBuilder b;
  b.profile_ = &profile;
  for (const auto& f : profile.fields) {
    if (f.pattern.empty()) continue;
    // The profile loader already compiled each pattern once; this cannot throw for them, but
    // std::regex reports failure only by exception, so keep it contained here.
    try {
      b.patterns_.emplace(f.name, std::regex(f.pattern, std::regex::ECMAScript));
    } catch (const std::regex_error& e) {
      return InvalidInput("profile '" + profile.name + "': field " + f.name +
                          ": bad pattern: " + e.what());
    }
  }
  return b;
}

std::vector<FieldProblem> RequestBuilder::Check(const Fields& fields) const {
  std::vector<FieldProblem> problems;
  for (const auto& [name, value] : fields) {
    if (profile_->Field(name) == nullptr) {
      problems.push_back(
          {name, 0, "field '" + name + "' is not part of profile '" + profile_->name + "'"});
    }
  }
  for (const auto& f : profile_->fields) {
    auto it = fields.find(f.name);
    const std::string value = it == fields.end() ? "" : it->second;
    if (value.empty()) {
      if (f.required) {
        problems.push_back({f.name, 0, f.name + " is required", FieldProblem::Kind::kRequired});
      }
      continue;
    }
    size_t offset = 0;
    Status text = CheckFieldText(value, &offset);
    if (!text.ok()) {
      problems.push_back({f.name, offset, f.name + ": " + text.message()});
      continue;
    }
    size_t len = Utf8Length(value);
    if (len > f.max_length) {
      problems.push_back({f.name, f.max_length,
                          f.name + " is " + std::to_string(len) +
                              " characters long; the limit is " + std::to_string(f.max_length),
                          FieldProblem::Kind::kTooLong, std::to_string(len)});
      continue;
    }
    if (value.front() == ' ' || value.back() == ' ') {
      problems.push_back({f.name, value.front() == ' ' ? 0 : len - 1,
                          f.name + " has leading or trailing spaces", FieldProblem::Kind::kSpaces});
      continue;
    }
    switch (f.kind) {
      case profiles::FieldKind::kEmail:
        if (!IsEmailAddress(value)) {
          problems.push_back({f.name, 0, f.name + ": '" + value + "' is not an email address",
                              FieldProblem::Kind::kNotEmail, value});
          continue;
        }
        break;
      case profiles::FieldKind::kDns: {
        Status dns = CheckDnsName(value);
        if (!dns.ok()) {
          problems.push_back(
              {f.name, 0, f.name + ": " + dns.message(), FieldProblem::Kind::kNotDns, value});
          continue;
        }
        break;
      }
      case profiles::FieldKind::kDnsList:
        for (const auto& d : SplitList(value)) {
          Status dns = CheckDnsName(d);
          if (!dns.ok()) {
            problems.push_back(
                {f.name, 0, f.name + ": " + dns.message(), FieldProblem::Kind::kNotDns, d});
            break;
          }
        }
        break;
      case profiles::FieldKind::kIpList:
        for (const auto& ip : SplitList(value)) {
          if (!IsIpAddress(ip)) {
            problems.push_back({f.name, 0, f.name + ": '" + ip + "' is not an IP address",
                                FieldProblem::Kind::kNotIp, ip});
            break;
          }
        }
        break;
      case profiles::FieldKind::kText:
        break;
    }
    auto pat = patterns_.find(f.name);
    if (pat != patterns_.end() && !std::regex_match(value, pat->second)) {
      problems.push_back({f.name, 0,
                          f.name + ": '" + value + "' does not match the pattern " + f.pattern,
                          FieldProblem::Kind::kPattern, value});
    }
  }
  return problems;
}

Result<BuiltRequest> RequestBuilder::Build(const Fields& given, FieldProblem* problem) const {
  BuiltRequest out;
  // A declared field that was not given at all (an optional CSV column left out of the file,
  // a --field not passed) is empty, exactly as an empty value is.
  Fields fields = given;
  for (const auto& f : profile_->fields) fields.emplace(f.name, "");
  Name name;
  // Templates are in RFC 4514 order (most specific first); a Name is built from the most
  // significant RDN down.
  for (auto it = profile_->subject.rbegin(); it != profile_->subject.rend(); ++it) {
    auto value = profiles::RenderTemplate(it->value, fields);
    if (!value.ok()) return value.status();
    if (value->empty()) continue;
    Status st = name.Add(it->attribute, *value);
    if (!st.ok()) {
      *problem = {FirstReference(it->value), 0, st.message()};
      return st;
    }
  }
  CP_ASSIGN_OR_RETURN(out.subject_der, EncodeName(name));
  out.subject = FormatName(name);
  for (const auto& t : profile_->sans) {
    auto value = profiles::RenderTemplate(t.value, fields);
    if (!value.ok()) return value.status();
    const std::string ref = FirstReference(t.value);
    const profiles::FieldSpec* f = profile_->Field(ref);
    std::vector<std::string> values;
    if (f != nullptr &&
        (f->kind == profiles::FieldKind::kDnsList || f->kind == profiles::FieldKind::kIpList)) {
      values = SplitList(*value);
    } else if (!value->empty()) {
      values.push_back(*value);
    }
    for (auto& v : values) {
      bool dup = false;
      for (const auto& s : out.sans) dup = dup || (s.type == t.type && s.value == v);
      if (!dup) out.sans.push_back({t.type, std::move(v)});
    }
  }
  if (name.empty() && out.sans.empty()) {
    *problem = {"", 0, "the request yields neither a subject nor a subjectAltName"};
    return InvalidInput(problem->message);
  }
  out.sans_json = SansToJson(out.sans);
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fields) {
    if (!v.empty()) j[k] = v;
  }
  out.fields_json = j.dump();
  if (!profile_->natural_key.empty()) {
    auto it = fields.find(profile_->natural_key);
    if (it != fields.end()) out.natural_key = it->second;
  }
  return out;
}

}  // namespace certpress::ra
