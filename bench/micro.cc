// certpress-micro: each pipeline stage alone (Google Benchmark), setup outside the timed loop,
// and where a stage is ours, the plain OpenSSL way of doing the same next to it.
//
// The HSM and database benchmarks need the private stack (scripts/stack up, then
// `source .certpress/env`; scripts/bench does both); without it they report an error and the
// rest still run.
#include <benchmark/benchmark.h>
#ifndef CERTPRESS_NO_MALLOC_PROXY
#include <oneapi/tbb/tbbmalloc_proxy.h>  // the product's allocator (app/main.cc)
#endif
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "kgs/activations.h"
#include "kgs/letters.h"
#include "kgs/sealed_keys.h"
#include "signer/aead.h"
#include "signer/csr.h"
#include "signer/der.h"
#include "signer/issuer.h"
#include "signer/key_type.h"
#include "signer/lint.h"
#include "signer/name.h"
#include "signer/pkcs12.h"
#include "signer/token.h"
#include "store/cas.h"
#include "store/certificates.h"
#include "store/db.h"
#include "store/schema.h"
#include "tests/support/memory_ledger.h"

namespace certpress::bench {
namespace {

template <class T>
T Must(Result<T> r) {
  if (!r.ok()) {
    std::fprintf(stderr, "certpress-micro: %s\n", r.status().message().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

KeyType KeyArg(int64_t v) {
  return v == 0 ? KeyType::kEcP256 : KeyType::kRsa2048;
}
const char* KeyLabel(int64_t v) {
  return v == 0 ? "P-256" : "RSA-2048";
}

// ---- key generation ----

void BM_KeyGen(benchmark::State& state) {
  const KeyType t = KeyArg(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(Must(GenerateSoftKey(t)));
  state.SetLabel(KeyLabel(state.range(0)));
}
BENCHMARK(BM_KeyGen)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The one-call OpenSSL way, which builds the context (and the curve) for every key.
void BM_KeyGenQuickOpenSsl(benchmark::State& state) {
  for (auto _ : state) {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    benchmark::DoNotOptimize(k);
    EVP_PKEY_free(k);
  }
  state.SetLabel("P-256");
}
BENCHMARK(BM_KeyGenQuickOpenSsl)->Unit(benchmark::kMicrosecond);

// ---- public and private key encoding ----

void BM_SpkiDer(benchmark::State& state) {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  for (auto _ : state) benchmark::DoNotOptimize(Must(SpkiDer(key.get())));
}
BENCHMARK(BM_SpkiDer)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

void BM_SpkiDerOpenSsl(benchmark::State& state) {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  for (auto _ : state) {
    unsigned char* out = nullptr;
    int len = i2d_PUBKEY(key.get(), &out);
    benchmark::DoNotOptimize(len);
    OPENSSL_free(out);
  }
}
BENCHMARK(BM_SpkiDerOpenSsl)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

// ---- CSR parse and proof of possession ----

Bytes OpenSslCsr() {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  UniquePtr<X509_REQ> req(X509_REQ_new());
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("dev.bench.example"), -1, -1,
                             0);
  X509_REQ_set_pubkey(req.get(), key.get());
  X509_REQ_sign(req.get(), key.get(), EVP_sha256());
  unsigned char* out = nullptr;
  int len = i2d_X509_REQ(req.get(), &out);
  Bytes der(out, out + len);
  OPENSSL_free(out);
  return der;
}

void BM_CsrParseAndVerify(benchmark::State& state) {
  const Bytes csr = OpenSslCsr();
  const std::vector<std::string> allowed = {"ec-p256"};
  for (auto _ : state) benchmark::DoNotOptimize(Must(ParseCsr(csr, allowed)));
}
BENCHMARK(BM_CsrParseAndVerify)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

// ---- TBS encoding from a profile ----

struct SoftCa {
  std::unique_ptr<CryptoToken> token;
  CaKey ca;
  profiles::CertProfile profile;
};

SoftCa& TheSoftCa() {
  static SoftCa* ca = [] {
    auto* s = new SoftCa;
    TokenConfig c;
    c.kind = "soft";
    c.dir = std::filesystem::temp_directory_path() / ("cp-micro-" + std::to_string(getpid()));
    std::filesystem::create_directories(c.dir);
    c.pin = SecureString("bench-soft-token");
    s->token = Must(OpenToken(c));
    s->ca.token = s->token.get();
    s->ca.key_label = "bench-ca";
    s->ca.key_type = KeyType::kEcP256;
    s->ca.spki = Must(s->token->GenerateKey("bench-ca", KeyType::kEcP256));
    s->ca.subject_der = Must(EncodeName(Must(ParseName("CN=Bench Issuing CA,O=CertPress Bench"))));
    // The end-to-end harness's certificate profile, so both measure the same certificate.
    auto set = Must(profiles::LoadProfiles(CERTPRESS_SOURCE_DIR "/bench/profiles"));
    s->profile = *Must(set.Certificate("bench-device"));
    std::filesystem::remove_all(c.dir);
    return s;
  }();
  return *ca;
}

// BenchTbsInput is the end-to-end harness's device: its subject, a fresh P-256 key, its name.
TbsInput BenchTbsInput() {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  return TbsInput{Must(EncodeName(Must(ParseName("CN=dev.bench.example,O=CertPress Bench")))),
                  Must(SpkiDer(key.get())),
                  {{profiles::SanType::kDns, "dev.bench.example"}},
                  0};
}

void BM_TbsEncode(benchmark::State& state) {
  SoftCa& ca = TheSoftCa();
  Issuer issuer = Must(Issuer::Create(ca.profile, ca.ca));
  const TbsInput in = BenchTbsInput();
  for (auto _ : state) benchmark::DoNotOptimize(Must(issuer.Prepare(in)));
}
BENCHMARK(BM_TbsEncode)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

// The pre-issuance lint alone (signer/lint.h, run inside BM_TbsEncode): every rule that
// applies to a TBS, on the end-to-end harness's certificate, with the issuer's options.
void BM_LintTbs(benchmark::State& state) {
  SoftCa& ca = TheSoftCa();
  Issuer issuer = Must(Issuer::Create(ca.profile, ca.ca));
  const PreparedCert prepared = Must(issuer.Prepare(BenchTbsInput()));
  LintOptions options;
  options.max_validity_days = ca.profile.validity_days;
  options.allow_internal_names = ca.profile.allow_internal_names;
  for (auto _ : state) {
    Status st = LintTbs(prepared.tbs, options);
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      break;
    }
  }
  state.SetLabel(std::to_string(LintRules().size()) + " rules");
}
BENCHMARK(BM_LintTbs)->Unit(benchmark::kMicrosecond);

// Issuer::Sign with the soft token: the recorded-intent checks before signing (TBS hashed
// afresh), the signature, and after it the TBS read back, hashed and verified. Against
// BM_SignInMemory (the signature alone) it prices the issuance core's own checks.
void BM_IssuerSignSoft(benchmark::State& state) {
  SoftCa& ca = TheSoftCa();
  Issuer issuer = Must(Issuer::Create(ca.profile, ca.ca));
  const TbsInput in = BenchTbsInput();
  const PreparedCert prepared = Must(issuer.Prepare(in));
  testing::MemoryLedger ledger;
  const RecordedIntent proof = ledger.Proof(prepared);
  for (auto _ : state) benchmark::DoNotOptimize(Must(issuer.Sign(prepared, proof)));
  state.SetLabel("P-256 CA, soft token");
}
BENCHMARK(BM_IssuerSignSoft)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The same TBSCertificate fields set with OpenSSL's X509_* calls and encoded with
// i2d_re_X509_tbs, the public key set from its decoded form as most code does.
void BM_TbsEncodeOpenSsl(benchmark::State& state) {
  SoftCa& ca = TheSoftCa();
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  const unsigned char* p = ca.ca.subject_der.data();
  UniquePtr<X509_NAME> issuer(
      d2i_X509_NAME(nullptr, &p, static_cast<long>(ca.ca.subject_der.size())));
  for (auto _ : state) {
    UniquePtr<X509> x(X509_new());
    X509_set_version(x.get(), X509_VERSION_3);
    unsigned char rnd[16];
    RAND_bytes(rnd, sizeof rnd);
    rnd[0] &= 0x7f;
    UniquePtr<BIGNUM> bn(BN_bin2bn(rnd, sizeof rnd, nullptr));
    BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()));
    X509_set_issuer_name(x.get(), issuer.get());
    X509_NAME* subj = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("dev.bench.example"), -1, -1,
                               0);
    X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>("CertPress Bench"), -1, -1,
                               0);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), -300);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), 365L * 86400);
    X509_set_pubkey(x.get(), key.get());
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, nullptr, x.get(), nullptr, nullptr, 0);
    const std::pair<int, const char*> exts[] = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_subject_alt_name, "DNS:dev.bench.example"},
        {NID_crl_distribution_points, "URI:http://pki.certpress.example/crl/bench.crl"},
        {NID_info_access, "caIssuers;URI:http://pki.certpress.example/ca/bench.crt"}};
    for (const auto& [nid, value] : exts) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      X509_add_ext(x.get(), e, -1);
      X509_EXTENSION_free(e);
    }
    unsigned char* out = nullptr;
    int len = i2d_re_X509_tbs(x.get(), &out);
    benchmark::DoNotOptimize(len);
    OPENSSL_free(out);
  }
}
BENCHMARK(BM_TbsEncodeOpenSsl)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

// ---- signing: the HSM session pool against in-memory EVP_DigestSign ----

struct StackToken {
  std::unique_ptr<CryptoToken> token;
  std::string error;
};

StackToken* OpenStackToken(bool session_copies) {
  auto* s = new StackToken;
  const char* label = std::getenv("CERTPRESS_TOKEN_LABEL");
  const char* pin = std::getenv("CERTPRESS_TOKEN_PIN_FILE");
  if (label == nullptr || pin == nullptr || std::getenv("SOFTHSM2_CONF") == nullptr) {
    s->error = "the private stack is not up (source .certpress/env)";
    return s;
  }
  TokenConfig c;
  c.kind = "pkcs11";
  c.module = "/usr/lib/softhsm/libsofthsm2.so";
  c.label = label;
  c.session_copies = session_copies;
  auto p = ReadSecretFile(pin);
  if (!p.ok()) {
    s->error = p.status().message();
    return s;
  }
  c.pin = std::move(p).value();
  auto token = OpenToken(c);
  if (!token.ok()) {
    s->error = token.status().message();
    return s;
  }
  s->token = std::move(token).value();
  for (KeyType kt : {KeyType::kEcP256, KeyType::kRsa2048}) {
    std::string l = std::string("bench-micro-") + std::string(KeyTypeName(kt));
    if (!s->token->PublicKey(l).ok()) Must(s->token->GenerateKey(l, kt));
  }
  return s;
}

// TheStackToken opens the stack's token once per setting of session copies (a copy of the key
// as a session object, or the token object itself: see Pkcs11Token::SessionCopy).
StackToken& TheStackToken(bool session_copies = true) {
  if (session_copies) {
    static StackToken* with_copies = OpenStackToken(true);
    return *with_copies;
  }
  static StackToken* without = OpenStackToken(false);
  return *without;
}

void BM_SignHsm(benchmark::State& state) {
  StackToken& t = TheStackToken(state.range(1) != 0);
  if (!t.token) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  const KeyType kt = KeyArg(state.range(0));
  const std::string label = std::string("bench-micro-") + std::string(KeyTypeName(kt));
  unsigned char digest[32] = {1};
  for (auto _ : state) benchmark::DoNotOptimize(Must(t.token->SignDigest(label, kt, digest)));
  state.SetLabel(std::string(KeyLabel(state.range(0))) + ", SoftHSM2 via the session pool, " +
                 (state.range(1) ? "session copy" : "token object"));
}
BENCHMARK(BM_SignHsm)
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Args({1, 0})
    ->ThreadRange(1, 4)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

void BM_SignInMemory(benchmark::State& state) {
  const KeyType kt = KeyArg(state.range(0));
  auto key = Must(GenerateSoftKey(kt));
  const Bytes tbs(600, 0x42);
  for (auto _ : state) {
    UniquePtr<EVP_MD_CTX> md(EVP_MD_CTX_new());
    size_t len = 0;
    EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(md.get(), nullptr, &len, tbs.data(), tbs.size());
    Bytes sig(len);
    EVP_DigestSign(md.get(), sig.data(), &len, tbs.data(), tbs.size());
    benchmark::DoNotOptimize(sig);
  }
  state.SetLabel(std::string(KeyLabel(state.range(0))) + ", EVP_DigestSign in memory");
}
BENCHMARK(BM_SignInMemory)
    ->Arg(0)
    ->Arg(1)
    ->ThreadRange(1, 2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- private key at rest, PKCS#12 ----

void BM_EnvelopeEncrypt(benchmark::State& state) {
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  Bytes dek(32, 0x11);
  const std::string aad = "certpress-key-v1:123456:device";
  for (auto _ : state) {
    auto pkcs8 = Must(Pkcs8Der(key.get()));
    benchmark::DoNotOptimize(Must(AesGcmSeal(dek, AsBytes(pkcs8.view()), AsBytes(aad))));
  }
  state.SetLabel("P-256 PKCS#8 + AES-256-GCM");
}
BENCHMARK(BM_EnvelopeEncrypt)->Unit(benchmark::kMicrosecond)->ThreadRange(1, 2)->UseRealTime();

void BM_Pkcs12Build(benchmark::State& state) {
  SoftCa& ca = TheSoftCa();
  Issuer issuer = Must(Issuer::Create(ca.profile, ca.ca));
  auto key = Must(GenerateSoftKey(KeyType::kEcP256));
  // The harness's device, with this key: a CN without the SAN fails the issuance lint.
  TbsInput in = BenchTbsInput();
  in.spki = Must(SpkiDer(key.get()));
  Bytes cert = Must(testing::SignRecorded(issuer, Must(issuer.Prepare(in))));
  Pkcs12Options opt;
  opt.legacy = state.range(0) == 1;
  SecureString password("correct horse battery staple");
  for (auto _ : state) {
    benchmark::DoNotOptimize(Must(BuildPkcs12(key.get(), cert, {}, password, opt)));
  }
  state.SetLabel(opt.legacy ? "legacy: 3DES, SHA-1 MAC" : "AES-256-CBC, PBKDF2-SHA256 600k");
}
BENCHMARK(BM_Pkcs12Build)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// ---- activation-code letters (issue 12) ----

// What the issuing transaction does per request of a profile that posts its activation code,
// beside its share of the three multi-row statements: draw the code and its HMAC, check that
// the holder's name and address fit the envelope window (pango measures them; Arg 1), seal the
// code under the run's letter key.
void BM_CodeLetterPerRequest(benchmark::State& state) {
  std::map<int64_t, SecureString> ring;
  ring.emplace(1, SecureString(std::string(32, 'k')));
  auto keys = kgs::ActivationKeys::ForTest(std::move(ring));
  const Bytes dek(32, 0x22);
  const std::string name = "Zoë Łukasiewicz-Ångström";
  const std::vector<std::string> address = {"Hauptstraße 5", "80331 München", "GERMANY"};
  int64_t id = 1;
  for (auto _ : state) {
    auto code = Must(kgs::DrawCode(*keys, id));
    if (state.range(0) != 0) {
      if (Status st = kgs::CheckRecipient(name, address); !st.ok()) {
        state.SkipWithError(st.message().c_str());
        return;
      }
    }
    const std::string aad = kgs::LetterSecretAad(id, id, "", "activation-code");
    benchmark::DoNotOptimize(Must(AesGcmSeal(dek, AsBytes(code.formatted.view()), AsBytes(aad))));
    ++id;
  }
  state.SetLabel(state.range(0) ? "code + HMAC + window check + AES-GCM seal"
                                : "code + HMAC + AES-GCM seal");
}
BENCHMARK(BM_CodeLetterPerRequest)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// The alternative the run's letter key avoids: a data key of its own per letter, wrapped by
// the HSM's key encryption key (a PIN letter's way: one HSM round trip each).
void BM_LetterKeyPerLetterHsm(benchmark::State& state) {
  StackToken& t = TheStackToken();
  if (!t.token) {
    state.SkipWithError(t.error.c_str());
    return;
  }
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        Must(kgs::DrawWrappedKey(*t.token, "bench-micro-kek", kgs::kLetterKeyAad)));
  }
  state.SetLabel("DrawWrappedKey: RAND + C_Encrypt (AES-GCM) in SoftHSM2");
}
BENCHMARK(BM_LetterKeyPerLetterHsm)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- persisting a chunk: intents, then certificates, one transaction each ----

void BM_PersistChunk(benchmark::State& state) {
  const char* socket = std::getenv("CERTPRESS_DB_SOCKET");
  const char* db = std::getenv("CERTPRESS_BENCH_DB");
  const char* pw = std::getenv("CERTPRESS_BENCH_DB_PASSWORD_FILE");
  if (socket == nullptr || db == nullptr || pw == nullptr) {
    state.SkipWithError(
        "needs CERTPRESS_DB_SOCKET, CERTPRESS_BENCH_DB and CERTPRESS_BENCH_DB_PASSWORD_FILE "
        "(see docs/BENCHMARKS.md)");
    return;
  }
  store::DbConfig c;
  c.socket = socket;
  c.name = db;
  c.user = "certpress";
  c.password = Must(ReadSecretFile(pw));
  auto conn = Must(store::Connection::Open(c));
  (void)Must(store::Migrate(*conn));
  auto existing = Must(store::FindCa(*conn, "bench-micro"));
  int64_t ca_id = 0;
  if (existing) {
    ca_id = existing->id;
  } else {
    store::CaRecord r;
    r.label = "bench-micro";
    r.subject = "CN=bench";
    r.key_uri = "pkcs11:object=bench-micro";
    r.key_type = "ec-p256";
    r.status = "active";
    ca_id = Must(store::InsertCa(*conn, r));
  }
  const size_t chunk = static_cast<size_t>(state.range(0));
  const std::string der(450, 'x');
  int64_t rows = 0;
  for (auto _ : state) {
    std::vector<store::CertIntent> intents(chunk);
    std::vector<const store::CertIntent*> recorded(chunk);
    std::vector<store::SignedCert> certs(chunk);
    for (size_t i = 0; i < chunk; ++i) {
      unsigned char rnd[16];
      RAND_bytes(rnd, sizeof rnd);
      rnd[0] &= 0x7f;
      intents[i].issuer_id = ca_id;
      intents[i].serial_hex = HexEncode(ByteSpan(rnd, sizeof rnd));
      intents[i].subject = "CN=dev.bench.example";
      intents[i].not_before = 1800000000;
      intents[i].not_after = 1830000000;
      RAND_bytes(intents[i].tbs_sha256.data(), 32);
      recorded[i] = &intents[i];
      certs[i] = {&intents[i], der};
    }
    Status st = store::RunTransaction(
        *conn, [&](store::Connection& cn) { return store::RecordIntents(cn, recorded); });
    if (st.ok()) {
      st = store::RunTransaction(
          *conn, [&](store::Connection& cn) { return store::StoreCertificates(cn, certs); });
    }
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
    rows += static_cast<int64_t>(chunk);
  }
  state.counters["certs/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_PersistChunk)
    ->Arg(50)
    ->Arg(250)
    ->Arg(1000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace certpress::bench

BENCHMARK_MAIN();
