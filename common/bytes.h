// bytes.h: byte buffers, secrets that wipe themselves, hex, and small file helpers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace certpress {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsString(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

// SecureString holds a secret (PIN, password, data key). Its destructor and Clear() overwrite
// the bytes with OPENSSL_cleanse before the memory is released, so secrets do not linger in
// freed heap. Copying is allowed only explicitly (Clone) to keep copies visible in review.
class SecureString {
 public:
  SecureString() = default;
  explicit SecureString(std::string s) : s_(std::move(s)) {}
  SecureString(SecureString&& o) noexcept : s_(std::move(o.s_)) { o.Clear(); }
  SecureString& operator=(SecureString&& o) noexcept;
  SecureString(const SecureString&) = delete;
  SecureString& operator=(const SecureString&) = delete;
  ~SecureString() { Clear(); }

  SecureString Clone() const { return SecureString(s_); }
  void Clear();
  const std::string& str() const { return s_; }
  std::string_view view() const { return s_; }
  bool empty() const { return s_.empty(); }
  size_t size() const { return s_.size(); }

 private:
  std::string s_;
};

std::string HexEncode(ByteSpan bytes);
Result<Bytes> HexDecode(std::string_view hex);

// ReadFile reads a whole file; errors name the path and errno text.
Result<std::string> ReadFile(const std::string& path);
// WriteFile writes |data| to |path| (truncating) with |mode| permissions set at creation.
Status WriteFile(const std::string& path, std::string_view data, int mode = 0644);
// WriteNewFile writes |data| to |path|, a file it creates with |mode| (O_CREAT | O_EXCL |
// O_NOFOLLOW: the mode is the file's from the start, and an existing file or a symlink at
// |path| is refused as a conflict). With |replace|, an existing |path| is replaced instead:
// the data goes to a new temporary file beside it (created 0600 and then given |mode|), which
// is renamed over |path|; rename replaces a symlink itself, never the file it points to. A
// directory at |path| is refused either way.
[[nodiscard]] Status WriteNewFile(const std::string& path, std::string_view data, int mode = 0600,
                                  bool replace = false);

// kMaxSecretFileBytes bounds what ReadSecretFile reads: a PIN or password file is small.
inline constexpr size_t kMaxSecretFileBytes = 4096;
// ReadSecretFile reads a PIN or password file, dropping trailing newlines. The bytes go
// straight into the SecureString's own buffer (no stack or temporary copies to wipe); a file
// larger than kMaxSecretFileBytes is refused.
Result<SecureString> ReadSecretFile(const std::string& path);

}  // namespace certpress
