// soft_token.h: a soft crypto token in a temporary directory of its own, for unit tests that
// sign without an HSM. Removed with the object.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "signer/token.h"

namespace certpress::testing {

class ScopedSoftToken {
 public:
  // |tag| names the directory (with the pid and the running test's name).
  explicit ScopedSoftToken(const std::string& tag) {
    dir_ = std::filesystem::temp_directory_path() /
           (tag + "-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    TokenConfig c;
    c.kind = "soft";
    c.dir = dir_.string();
    c.pin = SecureString("test password");
    auto t = OpenToken(c);
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (t.ok()) token_ = std::move(t).value();
  }
  ~ScopedSoftToken() { std::filesystem::remove_all(dir_); }
  ScopedSoftToken(const ScopedSoftToken&) = delete;
  ScopedSoftToken& operator=(const ScopedSoftToken&) = delete;

  CryptoToken* get() const { return token_.get(); }
  CryptoToken* operator->() const { return token_.get(); }
  CryptoToken& operator*() const { return *token_; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<CryptoToken> token_;
};

}  // namespace certpress::testing
