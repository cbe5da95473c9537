// certpress-bench: the helper behind scripts/bench, the end-to-end harness.
//
//   seed   put N approved requests of a bench profile into a database (CSR requests get
//          fresh P-256 keys and PKCS#10 requests made here), optionally writing some of the
//          CSRs as PEM for the peers (cfssl, openssl ca) to issue from the same input;
//   limit  the machine's limit: what the unavoidable cryptography costs, measured with plain
//          OpenSSL and raw PKCS#11 (a bare session on the same token and CA key), never with
//          CertPress's own stage code, so the limit does not move when our code does;
//   cfssl  drive a `cfssl serve` on loopback with keep-alive connections (/sign or /newcert);
//   audit  the audit log's share of persisting a chunk, isolated: N certificates' worth of
//          audit rows appended one per certificate (as before schema 8) against one chunk.issue
//          row per chunk carrying the chunk's Merkle root (what the pipeline does), in
//          alternating rounds on a throwaway database.
//
// Every subcommand prints one JSON object on stdout.
#include <dlfcn.h>
#ifndef CERTPRESS_NO_MALLOC_PROXY
#include <oneapi/tbb/tbbmalloc_proxy.h>  // the product's allocator (app/main.cc)
#endif
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <tbb/parallel_for.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/merkle.h"
#include "ra/request_builder.h"
#include "signer/der.h"
#include "signer/key_type.h"
#include "signer/name.h"
#include "store/audit.h"
#include "store/cas.h"
#include "store/db.h"
#include "store/requests.h"

namespace po = boost::program_options;
using nlohmann::json;

namespace certpress::bench {
namespace {

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "certpress-bench: " << what << "\n";
  std::exit(1);
}

template <class T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.status().message());
  return std::move(r).value();
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// A P-256 PKCS#10 request for CN=|cn| with a fresh key; the DER is built here so that making
// a million of them does not go through OpenSSL's encoder lookups.
Bytes MakeCsr(const std::string& cn) {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256), "key generation");
  Bytes spki = Must(SpkiDer(key.get()), "SPKI");
  Bytes subject = Must(EncodeName(Must(ParseName("CN=" + cn), "name")), "name");
  der::Writer info;
  size_t s = info.Begin(der::kSequence);
  info.SmallInteger(0);
  info.Raw(subject);
  info.Raw(spki);
  info.Primitive(der::ContextConstructed(0), {});
  info.End(s);
  UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
  size_t len = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, info.bytes().data(), info.bytes().size()) != 1) {
    Die("signing a CSR");
  }
  Bytes sig(len);
  if (EVP_DigestSign(md.get(), sig.data(), &len, info.bytes().data(), info.bytes().size()) != 1) {
    Die("signing a CSR");
  }
  sig.resize(len);
  der::Writer w;
  size_t req = w.Begin(der::kSequence);
  w.Raw(info.bytes());
  w.Raw(SignatureAlgorithmDer(KeyType::kEcP256));
  w.BitString(sig);
  w.End(req);
  return w.Take();
}

std::string Pem(const Bytes& der, const char* label) {
  UniquePtr<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), label, "", der.data(), static_cast<long>(der.size()));
  char* p = nullptr;
  long n = BIO_get_mem_data(bio.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

store::DbConfig DbFrom(const po::variables_map& vm) {
  store::DbConfig c;
  c.socket = vm["socket"].as<std::string>();
  c.name = vm["db"].as<std::string>();
  c.user = vm["user"].as<std::string>();
  const std::string pw = vm["password-file"].as<std::string>();
  if (!pw.empty()) c.password = Must(ReadSecretFile(pw), "database password");
  return c;
}

int Seed(const po::variables_map& vm) {
  const auto set = Must(profiles::LoadProfiles(vm["profiles"].as<std::string>()), "profiles");
  const auto* profile = Must(set.Card(vm["profile"].as<std::string>()), "profile");
  const auto builder = Must(ra::RequestBuilder::Create(*profile), "profile");
  auto conn = Must(store::Connection::Open(DbFrom(vm)), "database");
  auto ca = Must(store::FindCa(*conn, profile->ca), "CA lookup");
  if (!ca) Die("no CA labelled '" + profile->ca + "'");

  const int64_t n = vm["n"].as<int64_t>();
  const int64_t first = vm["first"].as<int64_t>();
  const bool csr = profile->token == profiles::TokenKind::kCsr;
  const std::string csr_out = vm["csr-out"].as<std::string>();
  const int64_t csr_out_count = vm["csr-out-count"].as<int64_t>();
  std::ofstream pem_out;
  if (!csr_out.empty()) pem_out.open(csr_out, std::ios::trunc);

  // Blocks keep memory flat whatever N is: make a block's CSRs in parallel, insert it.
  constexpr int64_t kBlock = 5000;
  constexpr size_t kRowsPerStatement = 1000;
  int64_t created = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t count = std::min(kBlock, n - b);
    std::vector<store::NewRequest> rows(static_cast<size_t>(count));
    tbb::parallel_for(int64_t{0}, count, [&](int64_t i) {
      char cn[64];
      std::snprintf(cn, sizeof cn, "dev-%08lld.bench.example",
                    static_cast<long long>(first + b + i));
      ra::FieldProblem problem;
      auto built = builder.Build({{"cn", cn}}, &problem);
      if (!built.ok()) Die(std::string(cn) + ": " + built.status().message());
      store::NewRequest& r = rows[static_cast<size_t>(i)];
      r = ra::NewRequestRow(*profile, ca->id, *built);
      r.approvals_needed = 0;  // seeded approved: the benchmark starts from approved requests
      r.natural_key = built->natural_key;
      if (csr) r.csr_der = MakeCsr(cn);
    });
    if (pem_out.is_open()) {
      for (int64_t i = 0; i < count && b + i < csr_out_count; ++i) {
        pem_out << Pem(rows[static_cast<size_t>(i)].csr_der, "CERTIFICATE REQUEST");
      }
    }
    for (size_t i = 0; i < rows.size(); i += kRowsPerStatement) {
      std::span<const store::NewRequest> part(rows.data() + i,
                                              std::min(kRowsPerStatement, rows.size() - i));
      size_t made = 0;
      Status st = store::RunTransaction(*conn, [&](store::Connection& c) -> Status {
        CP_ASSIGN_OR_RETURN(store::InsertOutcome got, store::InsertRequests(c, part));
        made = got.created;
        return Status::Ok();
      });
      if (!st.ok()) Die("inserting requests: " + st.message());
      created += static_cast<int64_t>(made);
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << json{{"created", created}, {"seconds", secs}}.dump() << "\n";
  return 0;
}

// ---- limit ----

struct P11 {
  CK_FUNCTION_LIST_PTR f = nullptr;
  CK_SLOT_ID slot = 0;
};

P11 LoadP11(const std::string& module, const std::string& label) {
  void* h = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) Die("cannot load " + module);
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
  P11 p;
  if (get == nullptr || get(&p.f) != CKR_OK) Die("C_GetFunctionList failed");
  // Threads call in: the module must do its own locking (PKCS#11 v2.40 5.4, C_Initialize).
  CK_C_INITIALIZE_ARGS args = {};
  args.flags = CKF_OS_LOCKING_OK;
  if (p.f->C_Initialize(&args) != CKR_OK) Die("C_Initialize failed");
  CK_ULONG n = 0;
  p.f->C_GetSlotList(CK_TRUE, nullptr, &n);
  std::vector<CK_SLOT_ID> slots(n);
  p.f->C_GetSlotList(CK_TRUE, slots.data(), &n);
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info;
    if (p.f->C_GetTokenInfo(s, &info) != CKR_OK) continue;
    std::string l(reinterpret_cast<char*>(info.label), sizeof info.label);
    l.erase(l.find_last_not_of(' ') + 1);
    if (l == label) {
      p.slot = s;
      return p;
    }
  }
  Die("no token labelled '" + label + "'");
}

// Measure runs |op| on |threads| threads for |seconds| and returns the core-seconds per op
// (summed thread CPU time over the summed count), so waiting never counts as work.
template <class Setup>
double Measure(int threads, double seconds, Setup setup) {
  std::atomic<int64_t> ops{0};
  std::atomic<int64_t> cpu_ns{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto op = setup();
      op();  // warm-up, outside the count
      const double c0 = ThreadCpuSeconds();
      const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
      int64_t n = 0;
      while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 16; ++i) op();
        n += 16;
      }
      cpu_ns += static_cast<int64_t>((ThreadCpuSeconds() - c0) * 1e9);
      ops += n;
    });
  }
  for (auto& t : pool) t.join();
  return static_cast<double>(cpu_ns.load()) * 1e-9 / static_cast<double>(ops.load());
}

int Limit(const po::variables_map& vm) {
  const std::string kind = vm["kind"].as<std::string>();
  const int threads = vm["threads"].as<int>();
  const double seconds = vm["seconds"].as<double>();
  const int cores = static_cast<int>(std::thread::hardware_concurrency());

  // The per-certificate cryptography other than the CA signature.
  double crypto = 0;
  std::string crypto_op;
  if (kind == "csr-p256") {
    crypto_op = "verify the CSR signature (P-256, OpenSSL EVP_DigestVerify)";
    crypto = Measure(threads, seconds, [] {
      auto key = Must(GenerateSoftKey(KeyType::kEcP256), "key");
      const unsigned char msg[300] = {1};
      UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
      size_t len = 0;
      EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get());
      EVP_DigestSign(md.get(), nullptr, &len, msg, sizeof msg);
      auto sig = std::make_shared<Bytes>(len);
      EVP_DigestSign(md.get(), sig->data(), &len, msg, sizeof msg);
      sig->resize(len);
      auto shared_key = std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
      return [shared_key, sig, msg] {
        UniquePtr<EVP_MD_CTX> v(EVP_MD_CTX_new());
        if (EVP_DigestVerifyInit(v.get(), nullptr, EVP_sha256(), nullptr, shared_key.get()) != 1 ||
            EVP_DigestVerify(v.get(), sig->data(), sig->size(), msg, sizeof msg) != 1) {
          Die("verify failed");
        }
      };
    });
  } else if (kind == "serverkey-p256" || kind == "serverkey-rsa2048") {
    const bool rsa = kind == "serverkey-rsa2048";
    crypto_op = rsa ? "generate an RSA-2048 key (OpenSSL EVP_PKEY_generate)"
                    : "generate a P-256 key (OpenSSL EVP_PKEY_generate)";
    crypto = Measure(threads, seconds, [rsa] {
      auto ctx = std::shared_ptr<EVP_PKEY_CTX>(
          EVP_PKEY_CTX_new_from_name(nullptr, rsa ? "RSA" : "EC", nullptr), EVP_PKEY_CTX_free);
      EVP_PKEY_keygen_init(ctx.get());
      if (rsa) {
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), 2048);
      } else {
        EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256");
      }
      return [ctx] {
        EVP_PKEY* k = nullptr;
        if (EVP_PKEY_generate(ctx.get(), &k) != 1) Die("keygen failed");
        EVP_PKEY_free(k);
      };
    });
  } else {
    Die("--kind must be csr-p256, serverkey-p256 or serverkey-rsa2048");
  }

  // One CA signature through a bare PKCS#11 session: C_SignInit + C_Sign on a digest.
  P11 p11 = LoadP11(vm["module"].as<std::string>(), vm["token-label"].as<std::string>());
  SecureString pin = Must(ReadSecretFile(vm["pin-file"].as<std::string>()), "PIN");
  const std::string key_label = vm["key-label"].as<std::string>();
  CK_SESSION_HANDLE login;
  p11.f->C_OpenSession(p11.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &login);
  CK_RV rv = p11.f->C_Login(login, CKU_USER,
                            reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(pin.str().data())),
                            pin.size());
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) Die("C_Login failed");
  // The login lasts while |login| is open (PKCS#11 v2.40 5.6); so does the session copy.
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, const_cast<char*>(key_label.data()), key_label.size()}};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  p11.f->C_FindObjectsInit(login, tmpl, 2);
  p11.f->C_FindObjects(login, &key, 1, &found);
  p11.f->C_FindObjectsFinal(login);
  if (found != 1) Die("no private key labelled '" + key_label + "'");
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE session_only[] = {{CKA_TOKEN, &no, sizeof no}};
  CK_OBJECT_HANDLE copy = CK_INVALID_HANDLE;
  if (p11.f->C_CopyObject(login, key, session_only, 1, &copy) != CKR_OK) Die("C_CopyObject failed");

  // A signature's time varies little: 10 s at most (the RSA limit's 60 s are for key
  // generation).
  const double sign_seconds = std::min(seconds, 10.0);
  auto sign_with = [&](CK_OBJECT_HANDLE k) {
    return Measure(threads, sign_seconds, [&, k] {
      CK_SESSION_HANDLE s;
      if (p11.f->C_OpenSession(p11.slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) {
        Die("C_OpenSession failed");
      }
      CK_FUNCTION_LIST_PTR f = p11.f;
      return [f, s, k] {
        CK_MECHANISM mech = {CKM_ECDSA, nullptr, 0};
        unsigned char digest[32] = {7};
        unsigned char sig[132];
        CK_ULONG len = sizeof sig;
        CK_RV r = f->C_SignInit(s, &mech, k);
        if (r == CKR_OK) r = f->C_Sign(s, digest, 32, sig, &len);
        if (r != CKR_OK)
          Die("C_SignInit/C_Sign failed: CKR 0x" +
              HexEncode(ByteSpan(reinterpret_cast<const uint8_t*>(&r), sizeof r)));
      };
    });
  };
  // The limit signs with the token object itself. CertPress signs with a copy held as
  // a session object (Pkcs11Token::SessionCopy), which SoftHSM2 signs with for less CPU; the
  // second figure prices that, so the fraction can also be read against the cheaper signature.
  const double sign = sign_with(key);
  const double sign_copy = sign_with(copy);
  const double per_cert = crypto + sign;
  json out{{"kind", kind},
           {"threads", threads},
           {"cores", cores},
           {"crypto_op", crypto_op},
           {"crypto_core_us", crypto * 1e6},
           {"sign_op", "C_SignInit + C_Sign, CKM_ECDSA P-256, bare session, token object"},
           {"sign_core_us", sign * 1e6},
           {"sign_session_copy_core_us", sign_copy * 1e6},
           {"limit_per_s", static_cast<double>(cores) / per_cert},
           {"limit_session_copy_per_s", static_cast<double>(cores) / (crypto + sign_copy)}};
  std::cout << out.dump() << "\n";
  return 0;
}

// ---- cfssl ----

int Cfssl(const po::variables_map& vm) {
  namespace http = boost::beast::http;
  using tcp = boost::asio::ip::tcp;
  const std::string host = vm["host"].as<std::string>();
  const std::string port = vm["port"].as<std::string>();
  const std::string mode = vm["mode"].as<std::string>();
  const int64_t n = vm["n"].as<int64_t>();
  const int conns = vm["connections"].as<int>();
  const std::string key_algo = vm["key-algo"].as<std::string>();
  std::vector<std::string> csrs;
  if (mode == "sign") {
    std::string all = Must(ReadFile(vm["csrs"].as<std::string>()), "CSR file");
    const std::string end = "-----END CERTIFICATE REQUEST-----\n";
    for (size_t at = 0, e; (e = all.find(end, at)) != std::string::npos; at = e + end.size()) {
      csrs.push_back(all.substr(at, e + end.size() - at));
    }
    if (csrs.empty()) Die("no CSRs in " + vm["csrs"].as<std::string>());
  } else if (mode != "newcert") {
    Die("--mode must be sign or newcert");
  }
  std::atomic<int64_t> next{0}, errors{0};
  std::string first_error;
  std::mutex mu;
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < conns; ++t) {
    pool.emplace_back([&] {
      try {
        boost::asio::io_context io;
        tcp::resolver resolver(io);
        boost::beast::tcp_stream stream(io);
        stream.connect(resolver.resolve(host, port));
        boost::beast::flat_buffer buf;
        for (int64_t i; (i = next++) < n;) {
          json body;
          std::string target;
          if (mode == "sign") {
            target = "/api/v1/cfssl/sign";
            body = {{"certificate_request", csrs[static_cast<size_t>(i) % csrs.size()]}};
          } else {
            target = "/api/v1/cfssl/newcert";
            char cn[64];
            std::snprintf(cn, sizeof cn, "dev-%08lld.bench.example", static_cast<long long>(i));
            const bool rsa = key_algo == "rsa";
            body = {{"request",
                     {{"CN", cn},
                      {"hosts", {cn}},
                      {"key", {{"algo", rsa ? "rsa" : "ecdsa"}, {"size", rsa ? 2048 : 256}}}}}};
          }
          http::request<http::string_body> req{http::verb::post, target, 11};
          req.set(http::field::host, host);
          req.set(http::field::content_type, "application/json");
          req.keep_alive(true);
          req.body() = body.dump();
          req.prepare_payload();
          http::write(stream, req);
          http::response<http::string_body> res;
          http::read(stream, buf, res);
          auto j = json::parse(res.body(), nullptr, false);
          if (res.result() != http::status::ok || j.is_discarded() || !j.value("success", false)) {
            if (errors++ == 0) {
              std::lock_guard lock(mu);
              first_error = res.body().substr(0, 300);
            }
          }
        }
      } catch (const std::exception& e) {
        errors++;
        std::lock_guard lock(mu);
        if (first_error.empty()) first_error = e.what();
      }
    });
  }
  for (auto& t : pool) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << json{{"mode", mode},
                    {"n", n},
                    {"errors", errors.load()},
                    {"seconds", secs},
                    {"per_s", static_cast<double>(n - errors.load()) / secs},
                    {"first_error", first_error}}
                   .dump()
            << "\n";
  return errors.load() == 0 ? 0 : 1;
}

}  // namespace

// Audit: what the audit log costs per certificate when persisting, one row per certificate
// against one row per chunk (with the Merkle root computed over the chunk's leaves). Each
// chunk's rows are appended in one transaction of their own, as the persist stage appends them
// inside the chunk's transaction; nothing else is written, so the difference is the audit's.
int Audit(const po::variables_map& vm) {
  store::DbConfig c = DbFrom(vm);
  auto keys = std::make_shared<store::AuditKeys>();
  keys->current_id = 1;
  keys->keys.emplace(1, SecureString(std::string(32, 'k')));
  c.audit_keys = keys;
  auto conn = Must(store::Connection::Open(c), "database");
  const int64_t n = vm["n"].as<int64_t>();
  const int64_t chunk = vm["chunk"].as<int64_t>();
  const int rounds = vm["rounds"].as<int>();
  auto run = [&](bool per_chunk) {
    const auto start = std::chrono::steady_clock::now();
    for (int64_t first = 0; first < n; first += chunk) {
      const int64_t size = std::min(chunk, n - first);
      std::vector<store::AuditEvent> events;
      if (per_chunk) {
        std::vector<merkle::Hash> leaves;
        for (int64_t i = 0; i < size; ++i) {
          const std::string leaf = "request:" + std::to_string(first + i) +
                                   ":1:" + std::string(32, static_cast<char>(i));
          leaves.push_back(merkle::LeafHash(AsBytes(leaf)));
        }
        events.push_back({"bench", "chunk.issue", "run:1",
                          "requests=" + std::to_string(size) + " certificates=" +
                              std::to_string(size) + " root=" + HexEncode(merkle::Root(leaves))});
      } else {
        for (int64_t i = 0; i < size; ++i) {
          events.push_back({"bench", "request.issue", "request:" + std::to_string(first + i),
                            "serial=" + std::string(32, 'f')});
        }
      }
      Status st = store::RunTransaction(
          *conn, [&](store::Connection& t) { return store::AppendAuditBatch(t, events); });
      if (!st.ok()) Die("appending audit rows: " + st.message());
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double per_cert = 0, per_chunk = 0;
  for (int r = 0; r < rounds; ++r) {  // alternate the order, as scripts/bench-ab does
    if (r % 2 == 0) {
      per_cert += run(false);
      per_chunk += run(true);
    } else {
      per_chunk += run(true);
      per_cert += run(false);
    }
  }
  const double certs = static_cast<double>(n) * rounds;
  nlohmann::json j = {{"n", n},
                      {"chunk", chunk},
                      {"rounds", rounds},
                      {"per_certificate_us", per_cert / certs * 1e6},
                      {"per_chunk_us", per_chunk / certs * 1e6},
                      {"saved_us", (per_cert - per_chunk) / certs * 1e6},
                      {"ratio", per_cert / per_chunk}};
  std::cout << j.dump() << "\n";
  return 0;
}

}  // namespace certpress::bench

int main(int argc, char** argv) {
  using namespace certpress::bench;
  if (argc < 2) {
    std::cerr << "usage: certpress-bench seed|limit|cfssl|audit [options] (--help)\n";
    return 2;
  }
  const std::string cmd = argv[1];
  po::options_description d(cmd + " options");
  d.add_options()("help,h", "this help");
  if (cmd == "seed") {
    d.add_options()("socket", po::value<std::string>()->required(), "MariaDB socket")(
        "db", po::value<std::string>()->required(), "database")(
        "user", po::value<std::string>()->default_value("certpress"), "user")(
        "password-file", po::value<std::string>()->default_value(""), "password file")(
        "profiles", po::value<std::string>()->required(), "profiles directory")(
        "profile", po::value<std::string>()->required(), "card profile")(
        "n", po::value<int64_t>()->required(), "requests to create")(
        "first", po::value<int64_t>()->default_value(0), "first device number")(
        "csr-out", po::value<std::string>()->default_value(""), "write CSRs as PEM here")(
        "csr-out-count", po::value<int64_t>()->default_value(0), "how many CSRs to write");
  } else if (cmd == "audit") {
    d.add_options()("socket", po::value<std::string>()->required(), "MariaDB socket")(
        "db", po::value<std::string>()->required(), "throwaway database")(
        "user", po::value<std::string>()->default_value("certpress"), "user")(
        "password-file", po::value<std::string>()->default_value(""), "password file")(
        "n", po::value<int64_t>()->default_value(20000), "certificates per round and way")(
        "chunk", po::value<int64_t>()->default_value(512),
        "certificates per chunk (the pipeline's)")("rounds", po::value<int>()->default_value(4),
                                                   "rounds (order alternates)");
  } else if (cmd == "limit") {
    d.add_options()("kind", po::value<std::string>()->required(), "scenario kind")(
        "threads",
        po::value<int>()->default_value(static_cast<int>(std::thread::hardware_concurrency())),
        "threads")("seconds", po::value<double>()->default_value(3.0), "seconds per measure")(
        "module", po::value<std::string>()->default_value("/usr/lib/softhsm/libsofthsm2.so"),
        "PKCS#11 module")("token-label", po::value<std::string>()->required(), "token label")(
        "pin-file", po::value<std::string>()->required(), "user PIN file")(
        "key-label", po::value<std::string>()->required(), "CA private key label");
  } else if (cmd == "cfssl") {
    d.add_options()("host", po::value<std::string>()->default_value("127.0.0.1"), "host")(
        "port", po::value<std::string>()->default_value("8888"), "port")(
        "mode", po::value<std::string>()->required(), "sign or newcert")(
        "csrs", po::value<std::string>()->default_value(""), "PEM CSRs (sign)")(
        "n", po::value<int64_t>()->required(), "requests")(
        "key-algo", po::value<std::string>()->default_value("ecdsa"), "newcert: ecdsa or rsa")(
        "connections",
        po::value<int>()->default_value(static_cast<int>(std::thread::hardware_concurrency())),
        "keep-alive connections");
  } else {
    std::cerr << "certpress-bench: unknown command '" << cmd << "'\n";
    return 2;
  }
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc - 1, argv + 1, d), vm);
    if (vm.count("help")) {
      std::cout << d;
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "certpress-bench " << cmd << ": " << e.what() << "\n";
    return 2;
  }
  if (cmd == "seed") return Seed(vm);
  if (cmd == "limit") return Limit(vm);
  if (cmd == "audit") return Audit(vm);
  return Cfssl(vm);
}
