#include "batch/importer.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <unordered_map>

#include "batch/csv.h"
#include "common/ossl.h"
#include "ra/request_builder.h"
#include "store/audit.h"
#include "store/requests.h"

namespace certpress::batch {

namespace {

Result<Bytes> FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  Bytes out(32);
  unsigned int len = 0;
  EVP_DigestFinal_ex(md.get(), out.data(), &len);
  return out;
}

std::string Where(const std::string& path, size_t line, size_t column) {
  return path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": ";
}

}  // namespace

Result<ImportReport> ImportCsv(store::Connection& conn, const profiles::CardProfile& profile,
                               const std::string& path, const ImportOptions& opt) {
  CP_ASSIGN_OR_RETURN(Bytes sha, FileSha256(path));
  struct stat st_buf;
  size_t file_size = ::stat(path.c_str(), &st_buf) == 0 ? static_cast<size_t>(st_buf.st_size) : 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path);
  CP_ASSIGN_OR_RETURN(ra::RequestBuilder builder, ra::RequestBuilder::Create(profile));
  CsvOptions csv_opt;
  csv_opt.max_field_bytes = opt.max_field_bytes;
  CsvReader reader(in, csv_opt);
  auto report_error = [&](const std::string& m) {
    if (opt.on_error) opt.on_error(m);
  };

  // The header names the fields.
  CsvRecord header;
  CsvError err;
  if (!reader.Next(&header, &err)) return InvalidInput(path + ": the file is empty");
  if (header.fields.empty()) {
    return InvalidInput(Where(path, err.line, err.column) + "header: " + err.message);
  }
  std::vector<std::string> columns;
  for (const auto& f : header.fields) {
    std::string name = f.value;
    while (!name.empty() && name.back() == ' ') name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    if (profile.Field(name) == nullptr) {
      std::string known;
      for (const auto& pf : profile.fields) known += (known.empty() ? "" : ", ") + pf.name;
      return InvalidInput(Where(path, f.line, f.column) + "unknown column '" + name +
                          "' (profile '" + profile.name + "' takes: " + known + ")");
    }
    for (const auto& c : columns) {
      if (c == name) {
        return InvalidInput(Where(path, f.line, f.column) + "column '" + name + "' appears twice");
      }
    }
    columns.push_back(name);
  }
  for (const auto& pf : profile.fields) {
    if (pf.required && std::find(columns.begin(), columns.end(), pf.name) == columns.end()) {
      return InvalidInput(Where(path, header.line, 1) + "required column '" + pf.name +
                          "' is missing");
    }
  }

  ImportReport report;
  if (!opt.dry_run) {
    CP_ASSIGN_OR_RETURN(report.import_id,
                        store::BeginImport(conn, sha, path, profile.name, opt.operator_name));
  }
  const std::string file_tag = HexEncode(ByteSpan(sha).subspan(0, 8));

  std::vector<store::NewRequest> chunk;
  std::vector<std::pair<size_t, size_t>> chunk_keys;  // where each row's natural key is
  size_t chunk_first_line = 0, chunk_last_line = 0;
  std::unordered_map<std::string, size_t> seen;  // natural key -> line, for in-file duplicates
  auto flush = [&]() -> Status {
    if (chunk.empty() || opt.dry_run) {
      chunk.clear();
      chunk_keys.clear();
      return Status::Ok();
    }
    store::InsertOutcome got;
    Status st = store::RunTransaction(conn, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(got, store::InsertRequests(c, chunk));
      return store::AppendAudit(
          c, {opt.operator_name, "request.import", "import:" + std::to_string(report.import_id),
              "profile=" + profile.name + " file=" + path +
                  " lines=" + std::to_string(chunk_first_line) + "-" +
                  std::to_string(chunk_last_line) + " created=" + std::to_string(got.created) +
                  " existing=" + std::to_string(got.existing) +
                  " conflicts=" + std::to_string(got.conflicts.size()) +
                  (opt.submitter_signature.empty()
                       ? ""
                       : " submitter-signature=" + opt.submitter_signature)});
    });
    if (!st.ok())
      return st.Wrap("storing rows " + std::to_string(chunk_first_line) + "-" +
                     std::to_string(chunk_last_line));
    report.created += got.created;
    report.existing += got.existing;
    // A taken natural key with different content is a bad row, never "already present".
    for (const auto& [index, why] : got.conflicts) {
      ++report.bad;
      report_error(Where(path, chunk_keys[index].first, chunk_keys[index].second) + why);
    }
    chunk.clear();
    chunk_keys.clear();
    return Status::Ok();
  };

  CsvRecord rec;
  while (reader.Next(&rec, &err)) {
    if (rec.fields.empty()) {
      ++report.rows;
      ++report.bad;
      report_error(Where(path, err.line, err.column) + err.message);
      continue;
    }
    ++report.rows;
    if (opt.on_progress && report.rows % 1000 == 0) {
      opt.on_progress(reader.bytes_read(), file_size, report.rows);
    }
    if (rec.fields.size() != columns.size()) {
      ++report.bad;
      const CsvField& at =
          rec.fields.size() > columns.size() ? rec.fields[columns.size()] : rec.fields.back();
      report_error(Where(path, at.line, at.column) + "expected " + std::to_string(columns.size()) +
                   " fields, found " + std::to_string(rec.fields.size()));
      continue;
    }
    ra::Fields fields;
    for (size_t i = 0; i < columns.size(); ++i) fields[columns[i]] = rec.fields[i].value;
    auto column_of = [&](const std::string& field, size_t offset) -> std::pair<size_t, size_t> {
      for (size_t i = 0; i < columns.size(); ++i) {
        if (columns[i] == field) return {rec.fields[i].line, rec.fields[i].column + offset};
      }
      return {rec.line, 1};
    };
    std::vector<ra::FieldProblem> problems = builder.Check(fields);
    if (!problems.empty()) {
      ++report.bad;
      for (const auto& p : problems) {
        auto [l, c] = column_of(p.field, p.offset);
        report_error(Where(path, l, c) + p.message);
      }
      continue;
    }
    ra::FieldProblem problem;
    auto built = builder.Build(fields, &problem);
    if (!built.ok()) {
      ++report.bad;
      auto [l, c] = column_of(problem.field, problem.offset);
      report_error(Where(path, l, c) + (problem.field.empty() ? "" : problem.field + ": ") +
                   built.status().message());
      continue;
    }
    std::string natural = profile.natural_key.empty() ? file_tag + ":" + std::to_string(rec.line)
                                                      : built->natural_key;
    auto [it, fresh] = seen.emplace(natural, rec.line);
    if (!fresh) {
      ++report.bad;
      auto [l, c] = column_of(profile.natural_key, 0);
      report_error(Where(path, l, c) + "duplicate of line " + std::to_string(it->second) +
                   " (same " + (profile.natural_key.empty() ? "row" : profile.natural_key) + ")");
      continue;
    }
    store::NewRequest r = ra::NewRequestRow(profile, opt.ca_id, std::move(built).value());
    r.submitted_by = opt.operator_name;
    r.natural_key = std::move(natural);
    if (!opt.dry_run) r.import_id = report.import_id;
    r.source_line = static_cast<int>(rec.line);
    // The columns' sizes are checked here, with the row's position, never met by truncation.
    std::string what;
    if (Status limit = store::CheckRequestLimits(r, &what); !limit.ok()) {
      ++report.bad;
      auto [l, c] = what == "natural_key" ? column_of(profile.natural_key, 0)
                                          : std::make_pair(rec.line, size_t{1});
      report_error(Where(path, l, c) + limit.message());
      continue;
    }
    chunk_keys.push_back(column_of(profile.natural_key, 0));
    if (chunk.empty()) chunk_first_line = rec.line;
    chunk_last_line = rec.line;
    chunk.push_back(std::move(r));
    if (chunk.size() >= opt.chunk_rows) CP_RETURN_IF_ERROR(flush());
  }
  CP_RETURN_IF_ERROR(flush());
  if (opt.on_progress) opt.on_progress(reader.bytes_read(), file_size, report.rows);
  if (!opt.dry_run) {
    CP_RETURN_IF_ERROR(store::FinishImport(
        conn, report.import_id, static_cast<int64_t>(report.rows),
        static_cast<int64_t>(report.created), static_cast<int64_t>(report.existing),
        static_cast<int64_t>(report.bad)));
  }
  return report;
}

}  // namespace certpress::batch
