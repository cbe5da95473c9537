// aead.h: AES-256-GCM in software (OpenSSL), for envelope encryption under a data key. The
// data key itself is only ever stored wrapped by a key in the token.
#pragma once

#include "common/bytes.h"
#include "common/status.h"

namespace certpress {

// AesGcmSeal encrypts with a fresh random 96-bit IV; returns IV || ciphertext || 16-byte tag.
Result<Bytes> AesGcmSeal(ByteSpan key32, ByteSpan plaintext, ByteSpan aad);
// AesGcmOpen checks the tag and decrypts; any change to blob or AAD fails.
Result<SecureString> AesGcmOpen(ByteSpan key32, ByteSpan blob, ByteSpan aad);

}  // namespace certpress
