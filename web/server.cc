// server.cc: the Boost.Beast HTTPS server (see server.h). One Session per connection, on its
// own strand; requests are handed to a worker pool and the response posted back to the
// session's strand.
#include "web/server.h"

#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>
#include <thread>

namespace certpress::web {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

// What sessions need of the options (never the key).
struct Limits {
  size_t max_header_bytes = 0;
  size_t max_body_bytes = 0;
  std::chrono::seconds read_timeout{0};
  std::chrono::seconds write_timeout{0};
};

struct Shared {
  Limits options;
  Handler handler;
  net::thread_pool* workers = nullptr;
};

Response PlainError(int status, const char* text) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(text) + "\n";
  return r;
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ssl::context& tls, std::shared_ptr<const Shared> shared)
      : stream_(std::move(socket), tls), shared_(std::move(shared)) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ = ep.address().to_string();
  }

  void Run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::OnRun, shared_from_this()));
  }

 private:
  void OnRun() {
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) return;  // not TLS, or too slow: the socket closes with the session
    ReadRequest();
  }

  void ReadRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(shared_->options.max_header_bytes));
    parser_->body_limit(shared_->options.max_body_bytes);
    // The whole request, and the wait for it on a kept-alive connection, within the deadline.
    beast::get_lowest_layer(stream_).expires_after(shared_->options.read_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == http::error::end_of_stream) return Close();
    if (ec == http::error::header_limit) {
      return Send(PlainError(431, "Request header fields too large"), false);
    }
    if (ec == http::error::body_limit) return Send(PlainError(413, "Request too large"), false);
    if (ec && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return Send(PlainError(400, "Bad request"), false);
    }
    if (ec) return;  // timeout (the stream is closed) or a broken link
    auto msg = parser_->release();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    if (req.target.empty() || req.target[0] != '/') {
      return Send(PlainError(400, "Bad request"), false);
    }
    req.path = req.target.substr(0, req.target.find('?'));
    for (const auto& f : msg) {
      std::string name(f.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      req.headers[name] = std::string(f.value());
    }
    req.body = std::move(msg.body());
    req.remote = remote_;
    const bool keep_alive = msg.keep_alive();
    const bool head = msg.method() == http::verb::head;
    // No read is pending while the handler runs; the write gets its own deadline.
    beast::get_lowest_layer(stream_).expires_never();
    net::post(*shared_->workers, [self = shared_from_this(), req = std::move(req), keep_alive,
                                  head]() mutable {
      Response r;
      try {
        r = self->shared_->handler(req);
      } catch (const std::exception&) {
        r = PlainError(500, "Internal server error");
      }
      OPENSSL_cleanse(req.body.data(), req.body.size());  // may hold a password
      net::post(self->stream_.get_executor(), [self, r = std::move(r), keep_alive, head]() mutable {
        self->Send(std::move(r), keep_alive, head);
      });
    });
  }

  // Send writes |r|; for a HEAD request the headers only, with the body's length (RFC 9110
  // 9.3.2).
  void Send(Response r, bool keep_alive, bool head = false) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(r.status));
    res_.set(http::field::server, "certpress");
    res_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : SecurityHeaders()) res_.set(name, value);
    for (const auto& [name, value] : r.headers) res_.insert(name, value);
    res_.body() = std::move(r.body);
    wipe_ = r.wipe_body;
    res_.keep_alive(keep_alive);
    res_.prepare_payload();
    if (head) {
      OPENSSL_cleanse(res_.body().data(), res_.body().size());
      res_.body().clear();
    }
    beast::get_lowest_layer(stream_).expires_after(shared_->options.write_timeout);
    http::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t) {
    if (wipe_) {
      OPENSSL_cleanse(res_.body().data(), res_.body().size());
      wipe_ = false;
    }
    if (ec) return;
    if (!res_.keep_alive()) return Close();
    ReadRequest();
  }

  void Close() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_shutdown(beast::bind_front_handler(&Session::OnShutdown, shared_from_this()));
  }
  void OnShutdown(beast::error_code) {}

  beast::ssl_stream<beast::tcp_stream> stream_;
  std::shared_ptr<const Shared> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  bool wipe_ = false;
  std::string remote_;
};

int Cores() {
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

struct Server::Impl {
  // Declared first, destroyed last: sessions hold references to the TLS context.
  ssl::context tls{ssl::context::tls_server};
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::unique_ptr<net::thread_pool> workers;
  std::unique_ptr<net::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopped{false};

  void Accept() {
    acceptor->async_accept(net::make_strand(*ioc), [this](beast::error_code ec, tcp::socket s) {
      if (!acceptor->is_open()) return;
      if (!ec) {
        // Responses are small and written whole: Nagle would only delay them.
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(s), tls, shared)->Run();
      }
      Accept();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  Stop();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->shared->options = {options.max_header_bytes, options.max_body_bytes, options.read_timeout,
                           options.write_timeout};
  impl->shared->handler = std::move(handler);
  const int io_threads = options.io_threads > 0 ? options.io_threads : Cores();
  const int workers = options.worker_threads > 0 ? options.worker_threads : Cores();
  try {
    // TLS 1.2 at least (RFC 8996 retires 1.0 and 1.1); for 1.2, forward-secret AEAD suites
    // only (RFC 7525 4.2); OpenSSL's TLS 1.3 suites are all AEAD.
    SSL_CTX* ctx = impl->tls.native_handle();
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
      return Internal("setting the TLS 1.2 cipher list");
    }
    impl->tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                          ssl::context::no_sslv3 | ssl::context::single_dh_use);
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    impl->tls.use_certificate_chain(
        net::buffer(options.cert_chain_pem.data(), options.cert_chain_pem.size()));
    impl->tls.use_private_key(net::buffer(options.key_pem.str().data(), options.key_pem.size()),
                              ssl::context::pem);

    impl->workers = std::make_unique<net::thread_pool>(static_cast<size_t>(workers));
    impl->shared->workers = impl->workers.get();
    impl->ioc = std::make_unique<net::io_context>(io_threads);
    const auto address = net::ip::make_address(options.address);
    const tcp::endpoint ep(address, options.port);
    impl->acceptor = std::make_unique<tcp::acceptor>(*impl->ioc);
    impl->acceptor->open(ep.protocol());
    impl->acceptor->set_option(net::socket_base::reuse_address(true));
    impl->acceptor->bind(ep);
    impl->acceptor->listen(net::socket_base::max_listen_connections);
  } catch (const boost::system::system_error& e) {
    return Unavailable("starting the HTTPS server on " + options.address + ":" +
                       std::to_string(options.port) + ": " + e.what());
  }
  impl->Accept();
  for (int i = 0; i < io_threads; ++i) {
    impl->threads.emplace_back([ioc = impl->ioc.get()] { ioc->run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  beast::error_code ec;
  return impl_->acceptor->local_endpoint(ec).port();
}

void Server::WaitForSignal() {
  net::io_context signals_ioc;
  net::signal_set signals(signals_ioc, SIGINT, SIGTERM);
  signals.async_wait([](const beast::error_code&, int) {});
  signals_ioc.run();
  Stop();
}

void Server::Stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  net::post(*impl_->ioc, [a = impl_->acceptor.get()] {
    beast::error_code ec;
    a->close(ec);
  });
  impl_->ioc->stop();
  for (auto& t : impl_->threads) t.join();
  // Handlers already running finish; their responses are dropped with the connections.
  impl_->workers->join();
}

}  // namespace certpress::web
