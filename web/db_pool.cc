#include "web/db_pool.h"

namespace certpress::web {

Result<DbPool::Lease> DbPool::Get() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c));
    }
  }
  auto c = store::Connection::Open(config_);
  if (!c.ok()) return c.status();
  return Lease(this, std::move(c).value());
}

void DbPool::Return(std::unique_ptr<store::Connection> c) {
  std::lock_guard<std::mutex> lock(mu_);
  // Beyond a few dozen idle connections the server holds more than its threads can use.
  if (idle_.size() < 64) idle_.push_back(std::move(c));
}

}  // namespace certpress::web
