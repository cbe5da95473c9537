// pkcs11_internal.h: factories behind OpenToken(); not part of the public header set.
#pragma once

#include <memory>

#include "signer/token.h"

namespace certpress {

// CkrName renders a CK_RV as its symbolic name ("CKR_PIN_INCORRECT").
std::string CkrName(unsigned long rv);
TokenConfig CloneConfig(const TokenConfig& config);
Result<std::unique_ptr<CryptoToken>> OpenPkcs11Token(const TokenConfig& config);
Result<std::unique_ptr<CryptoToken>> OpenSoftToken(const TokenConfig& config);

}  // namespace certpress
