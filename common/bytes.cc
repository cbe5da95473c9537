#include "common/bytes.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace certpress {

SecureString& SecureString::operator=(SecureString&& o) noexcept {
  if (this != &o) {
    Clear();
    s_ = std::move(o.s_);
    o.Clear();
  }
  return *this;
}

void SecureString::Clear() {
  if (!s_.empty()) OPENSSL_cleanse(s_.data(), s_.size());
  s_.clear();
  s_.shrink_to_fit();
}

std::string HexEncode(ByteSpan bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidInput("hex string has an odd number of digits");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidInput("invalid hex digit at offset " +
                          std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open " + path + ": " + std::strerror(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Internal("reading " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

namespace {

Status WriteAll(int fd, const std::string& path, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return Internal("writing " + path + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Internal("closing " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Status WriteFile(const std::string& path, std::string_view data, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return InvalidInput("cannot create " + path + ": " + std::strerror(errno));
  return WriteAll(fd, path, data);
}

Status WriteNewFile(const std::string& path, std::string_view data, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return InvalidInput("cannot create " + path + ": " + std::strerror(errno));
  return WriteAll(fd, path, data);
}

Result<SecureString> ReadSecretFile(const std::string& path) {
  auto r = ReadFile(path);
  if (!r.ok()) return r.status();
  std::string s = std::move(r).value();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  SecureString out(std::move(s));
  if (out.empty()) return InvalidInput("secret file " + path + " is empty");
  return out;
}

}  // namespace certpress
