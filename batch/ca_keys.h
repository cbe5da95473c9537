// ca_keys.h: the signing view of a CA of ours (its certificate from the store, its key in the
// token), shared by CA creation and the pipeline.
#pragma once

#include "common/status.h"
#include "signer/issuer.h"
#include "signer/token.h"
#include "store/cas.h"
#include "store/db.h"

namespace certpress::batch {

// CaKeyFor builds the issuer-side view of an active CA record.
Result<CaKey> CaKeyFor(const store::CaRecord& ca, CryptoToken& token);
// LoadCaKey looks the CA up by id and builds its view.
Result<CaKey> LoadCaKey(store::Connection& conn, CryptoToken& token, int64_t ca_id);

}  // namespace certpress::batch
