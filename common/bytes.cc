#include "common/bytes.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
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
  // The whole buffer, not only size() bytes: a string moved from keeps its short-string
  // buffer's old bytes (a 6-digit PIN fits it) with a size of 0.
  OPENSSL_cleanse(s_.data(), s_.capacity());
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

// WriteAll writes |data| to |fd| (named |path| in errors); the caller closes |fd|.
Status WriteAll(int fd, const std::string& path, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("writing " + path + ": " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  return Status::Ok();
}

}  // namespace

Status WriteFile(const std::string& path, std::string_view data, int mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return InvalidInput("cannot create " + path + ": " + std::strerror(errno));
  Status w = WriteAll(fd, path, data);
  if (::close(fd) != 0 && w.ok()) w = Internal("closing " + path + ": " + std::strerror(errno));
  return w;
}

Result<SecureString> ReadSecretFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound("cannot open " + path + ": " + std::strerror(errno));
  // One allocation of the largest size allowed plus one byte (to tell "too large"), read into
  // directly and shrunk in place, so the secret never sits in any other buffer.
  std::string s(kMaxSecretFileBytes + 1, '\0');
  size_t got = 0;
  while (got < s.size()) {
    ssize_t n = ::read(fd, s.data() + got, s.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      OPENSSL_cleanse(s.data(), s.size());
      return Internal("reading " + path + ": " + std::strerror(e));
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got > kMaxSecretFileBytes) {
    OPENSSL_cleanse(s.data(), s.size());
    return InvalidInput("secret file " + path + " is larger than " +
                        std::to_string(kMaxSecretFileBytes) + " bytes");
  }
  s.resize(got);  // shrinking keeps the buffer: nothing is copied
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  SecureString out(std::move(s));
  if (out.empty()) return InvalidInput("secret file " + path + " is empty");
  return out;
}

Status WriteNewFile(const std::string& path, std::string_view data, int mode, bool replace) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return InvalidInput(path + " is a directory");
    if (!replace) {
      return Conflict(path + " already exists" +
                      (S_ISLNK(st.st_mode) ? std::string(" (a symbolic link)") : std::string()) +
                      "; it is not overwritten");
    }
  }
  auto write_all = [&](int fd, const std::string& name) -> Status {
    CP_RETURN_IF_ERROR(WriteAll(fd, name, data));
    if (::fsync(fd) != 0) return Internal("syncing " + name + ": " + std::strerror(errno));
    return Status::Ok();
  };
  if (!replace) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
      if (errno == EEXIST) return Conflict(path + " already exists; it is not overwritten");
      return InvalidInput("cannot create " + path + ": " + std::strerror(errno));
    }
    Status w = write_all(fd, path);
    if (::close(fd) != 0 && w.ok()) w = Internal("closing " + path + ": " + std::strerror(errno));
    if (!w.ok()) ::unlink(path.c_str());
    return w;
  }
  std::string tmp = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(tmp.data());  // O_EXCL, mode 0600
  if (fd < 0)
    return InvalidInput("cannot create a file beside " + path + ": " + std::strerror(errno));
  Status w = ::fchmod(fd, static_cast<mode_t>(mode)) == 0
                 ? write_all(fd, tmp)
                 : Internal("setting the mode of " + tmp + ": " + std::strerror(errno));
  if (::close(fd) != 0 && w.ok()) w = Internal("closing " + tmp + ": " + std::strerror(errno));
  if (w.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    w = Internal("replacing " + path + ": " + std::strerror(errno));
  }
  if (!w.ok()) ::unlink(tmp.c_str());
  return w;
}

}  // namespace certpress
