// pkcs11_internal.h: factories behind OpenToken(); not part of the public header set. The
// PKCS#11 token's own internals are in pkcs11_module.h and pkcs11_session.h.
#pragma once

#include <memory>

#include "signer/token.h"

namespace certpress {

// CkrName renders a CK_RV as its symbolic name ("CKR_PIN_INCORRECT"); in pkcs11_module.cc.
std::string CkrName(unsigned long rv);
TokenConfig CloneConfig(const TokenConfig& config);
Result<std::unique_ptr<CryptoToken>> OpenPkcs11Token(const TokenConfig& config);
Result<std::unique_ptr<CryptoToken>> OpenSoftToken(const TokenConfig& config);

}  // namespace certpress
