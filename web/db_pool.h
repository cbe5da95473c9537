// db_pool.h: database connections for the server's worker threads. A store::Connection is
// used by one thread at a time; the pool lends idle ones and opens more on demand.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "store/db.h"

namespace certpress::web {

class DbPool {
 public:
  explicit DbPool(store::DbConfig config) : config_(std::move(config)) {}

  // Lease returns its connection to the pool when it goes out of scope.
  class Lease {
   public:
    Lease(DbPool* pool, std::unique_ptr<store::Connection> c) : pool_(pool), c_(std::move(c)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (c_) pool_->Return(std::move(c_));
    }
    store::Connection& operator*() { return *c_; }
    store::Connection* operator->() { return c_.get(); }

   private:
    DbPool* pool_;
    std::unique_ptr<store::Connection> c_;
  };

  Result<Lease> Get();

 private:
  void Return(std::unique_ptr<store::Connection> c);
  store::DbConfig config_;
  std::mutex mu_;
  std::vector<std::unique_ptr<store::Connection>> idle_;
};

}  // namespace certpress::web
