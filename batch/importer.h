// importer.h: bulk CSV upload. Every row is checked against the card profile; each bad row is
// reported as FILE:LINE:COLUMN: reason and skipped; good rows become requests, stored in one
// transaction per chunk. The file is streamed, so memory stays flat in the number of rows.
#pragma once

#include <functional>
#include <string>

#include "cardprofiles/profile.h"
#include "common/status.h"
#include "store/db.h"

namespace certpress::batch {

struct ImportOptions {
  int64_t ca_id = 0;
  std::string operator_name;
  std::string submitter_signature;  // hex, when the submitter signed the file (audited)
  bool dry_run = false;             // check everything, write nothing
  size_t chunk_rows = 500;
  size_t max_field_bytes = 4096;
  // Called for each bad row with "FILE:LINE:COLUMN: reason".
  std::function<void(const std::string&)> on_error;
  // Called now and then with bytes read, file size and rows seen.
  std::function<void(size_t, size_t, size_t)> on_progress;
};

struct ImportReport {
  int64_t import_id = 0;
  size_t rows = 0;      // data rows read
  size_t created = 0;   // new requests
  size_t existing = 0;  // rows whose request already existed (same natural key)
  size_t bad = 0;       // rows reported and skipped
};

// ImportCsv imports |path| against |profile|. A header that cannot be used (unknown or
// missing columns) fails the whole import; a bad row never does.
Result<ImportReport> ImportCsv(store::Connection& conn, const profiles::CardProfile& profile,
                               const std::string& path, const ImportOptions& options);

}  // namespace certpress::batch
