// server.h: the HTTPS server under the pickup pages: Boost.Beast on Boost.Asio with OpenSSL.
// TLS 1.2 or later with ECDHE and AEAD ciphers only; TCP_NODELAY; HTTP/1.1 keep-alive; a
// deadline on every read (the TLS handshake, each request's header and body) and write; caps
// on header and body sizes (431 and 413); handlers run on a worker pool so that a slow one
// (PKCS#12 key derivation) never stalls the I/O threads. Every response carries
// SecurityHeaders().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/bytes.h"
#include "common/status.h"
#include "web/http.h"

namespace certpress::web {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8443;    // 0: any free port (port() says which)
  int io_threads = 0;      // 0: one per core
  int worker_threads = 0;  // handlers; 0: one per core
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  // The TLS handshake, and each whole request (header and body, including the wait for it on
  // a kept-alive connection), must arrive within this: a slow sender is cut off.
  std::chrono::seconds read_timeout{15};
  std::chrono::seconds write_timeout{30};
  std::string cert_chain_pem;  // the server certificate, then its chain
  SecureString key_pem;        // its private key (PKCS#8 PEM)
};

class Server {
 public:
  // Start binds, listens and starts the threads; requests go to |handler|.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;
  // WaitForSignal blocks until SIGINT or SIGTERM, then stops the server.
  void WaitForSignal();
  // Stop closes the listener and every connection and joins the threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace certpress::web
