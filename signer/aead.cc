#include "signer/aead.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/ossl.h"

namespace certpress {

Result<Bytes> AesGcmSeal(ByteSpan key, ByteSpan plaintext, ByteSpan aad) {
  if (key.size() != 32) return Internal("AES-256-GCM needs a 32-byte key");
  Bytes out(12 + plaintext.size() + 16);
  if (RAND_bytes(out.data(), 12) != 1) return OsslError("drawing an IV");
  UniquePtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), out.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                         static_cast<int>(aad.size())) != 1) ||
      EVP_EncryptUpdate(ctx.get(), out.data() + 12, &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out.data() + 12 + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16,
                          out.data() + 12 + plaintext.size()) != 1) {
    return OsslError("AES-256-GCM encryption");
  }
  return out;
}

Result<SecureString> AesGcmOpen(ByteSpan key, ByteSpan blob, ByteSpan aad) {
  if (key.size() != 32) return Internal("AES-256-GCM needs a 32-byte key");
  if (blob.size() < 28) return InvalidInput("encrypted blob is too short");
  const size_t n = blob.size() - 28;
  std::string out(n, '\0');
  UniquePtr<EVP_CIPHER_CTX> ctx(EVP_CIPHER_CTX_new());
  int len = 0, fin = 0;
  Bytes tag(blob.end() - 16, blob.end());
  bool ok =
      ctx &&
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(), blob.data()) == 1 &&
      (aad.empty() || EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                        static_cast<int>(aad.size())) == 1) &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(out.data()), &len, blob.data() + 12,
                        static_cast<int>(n)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<uint8_t*>(out.data()) + len, &fin) == 1;
  SecureString result(std::move(out));
  if (!ok) {
    OpenSslErrors();
    return InvalidInput("AES-256-GCM authentication failed (wrong key, AAD or data)");
  }
  return result;
}

}  // namespace certpress
