#include "batch/pipeline.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "batch/ca_keys.h"
#include "batch/package.h"
#include "batch/request_builder.h"
#include "common/ossl.h"
#include "signer/aead.h"
#include "signer/csr.h"
#include "signer/issuer.h"
#include "store/audit.h"
#include "store/certificates.h"
#include "store/requests.h"

namespace certpress::batch {

namespace {

// One certificate to make for a request (a soft profile may name several keys).
struct Work {
  const profiles::KeySpec* key = nullptr;
  const Issuer* issuer = nullptr;
  int64_t issuer_id = 0;
  UniquePtr<EVP_PKEY> private_key;  // server-generated keys only, until packaged
  Bytes spki;
  PreparedCert prepared;
  // Written once, in the parallel encode stage: recorded before signing, stored with the DER.
  store::CertIntent intent;
  std::string der;
  std::string key_blob;  // IV || AES-256-GCM(PKCS#8) || tag
};

struct Item {
  store::ClaimedRequest req;
  const profiles::CardProfile* profile = nullptr;
  std::vector<SubjectAltName> sans;
  std::vector<Work> works;
  Status status;  // a per-request failure; the request ends failed with this reason
};

struct Chunk {
  std::vector<Item> items;
};

bool Fatal(const Status& s) {
  return s.kind() == ErrorKind::kHsm || s.kind() == ErrorKind::kUnavailable ||
         s.kind() == ErrorKind::kDatabase;
}

// Shared state of one run. Serial stages own their connection; parallel stages touch only
// their items and read-only shared data.
class Run {
 public:
  Run(const profiles::ProfileSet& profiles, CryptoToken& token, const BatchOptions& opt)
      : profiles_(profiles), token_(token), opt_(opt) {}

  Status Open(const store::DbConfig& db) {
    CP_ASSIGN_OR_RETURN(claim_db_, store::Connection::Open(db));
    CP_ASSIGN_OR_RETURN(intent_db_, store::Connection::Open(db));
    CP_ASSIGN_OR_RETURN(persist_db_, store::Connection::Open(db));
    for (const auto& [name, card] : profiles_.cards) {
      // PIV cards are issued at personalization stations, not by batch runs.
      if (card.token != profiles::TokenKind::kPiv) batch_profiles_.push_back(name);
      if (card.token == profiles::TokenKind::kSoft) needs_data_key_ = true;
    }
    return Status::Ok();
  }

  Status SetUpDataKey() {
    if (!needs_data_key_) return Status::Ok();
    // One data key per run: one HSM operation, then private keys are sealed in software.
    std::string dek(32, '\0');
    if (RAND_bytes(reinterpret_cast<uint8_t*>(dek.data()), 32) != 1) {
      return OsslError("drawing a data key");
    }
    dek_ = SecureString(std::move(dek));
    CP_RETURN_IF_ERROR(token_.EnsureSecretKey(opt_.kek_label).Wrap("key encryption key"));
    CP_ASSIGN_OR_RETURN(Bytes wrapped, token_.SecretEncrypt(opt_.kek_label, AsBytes(dek_.view()),
                                                            AsBytes(kDataKeyAad)));
    Status st = store::RunTransaction(*persist_db_, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(data_key_id_, store::StoreDataKey(c, opt_.kek_label, wrapped));
      return Status::Ok();
    });
    return st.Wrap("storing the run's data key");
  }

  Status StartRun() {
    CP_ASSIGN_OR_RETURN(summary_.expected, store::CountClaimable(*claim_db_, batch_profiles_));
    if (opt_.limit > 0) summary_.expected = std::min(summary_.expected, opt_.limit);
    return store::RunTransaction(*persist_db_, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(auto r, c.Exec("INSERT INTO runs (claimed_by, started_at) VALUES (?, "
                                         "UTC_TIMESTAMP(6))",
                                         {opt_.claimer}));
      summary_.run_id = static_cast<int64_t>(r.insert_id);
      return Status::Ok();
    });
  }

  void FinishRun() {
    summary_.claimed = claimed_.load();
    const char* outcome = !summary_.fatal.ok() ? "failed" : stopped_ ? "stopped" : "done";
    double rate = summary_.seconds > 0 ? summary_.issued / summary_.seconds : 0;
    store::RunTransaction(*persist_db_, [&](store::Connection& c) -> Status {
      return c
          .Exec(
              "UPDATE runs SET finished_at = UTC_TIMESTAMP(6), claimed = ?, issued = ?, "
              "failed = ?, certs_per_s = ?, outcome = ?, message = ? WHERE id = ?",
              {summary_.claimed, summary_.issued, summary_.failed, static_cast<int64_t>(rate),
               std::string_view(outcome), std::string_view(summary_.fatal.message()),
               summary_.run_id})
          .status();
    }).IgnoreError();
  }

  // Expired leases are looked for first on the run's first claim and then every tenth of a
  // lease (1 to 30 s), not on every chunk: the look walks index entries of every request that
  // left 'issuing' and is not purged yet, and cost as much as a third of the claim. A lease
  // runs out only lease_seconds after its holder stopped, so this delays the start of its
  // reclaim by at most a tenth; a look that fills the whole chunk with expired leases (a dead
  // scheduler held many chunks) is repeated on the next claim until they are all taken. In
  // between, expired leases are still taken when approved requests run out.
  store::ExpiredLeases ExpiredLeasesNow() {
    auto now = std::chrono::steady_clock::now();
    auto every = std::chrono::seconds(std::clamp(opt_.lease_seconds / 10, 1, 30));
    if (expired_checked_ && now - *expired_checked_ < every) return store::ExpiredLeases::kIfRoom;
    expired_checked_ = now;
    return store::ExpiredLeases::kFirst;
  }

  std::unique_ptr<Chunk> Claim() {
    if (HasFatal() || (opt_.stop && opt_.stop->load())) {
      stopped_ = stopped_ || (opt_.stop && opt_.stop->load());
      return nullptr;
    }
    int want = opt_.chunk_size;
    if (opt_.limit > 0) {
      int64_t left = opt_.limit - claimed_.load();
      if (left <= 0) return nullptr;
      want = static_cast<int>(std::min<int64_t>(want, left));
    }
    const store::ExpiredLeases expired = ExpiredLeasesNow();
    auto claimed = store::ClaimRequests(*claim_db_, batch_profiles_, want, opt_.claimer,
                                        opt_.lease_seconds, expired);
    if (!claimed.ok()) {
      SetFatal(claimed.status());
      return nullptr;
    }
    if (claimed->empty()) return nullptr;
    const auto reclaimed =
        std::count_if(claimed->begin(), claimed->end(),
                      [](const store::ClaimedRequest& r) { return r.reclaimed; });
    if (expired == store::ExpiredLeases::kFirst && reclaimed == want) expired_checked_.reset();
    claimed_ += static_cast<int64_t>(claimed->size());
    auto chunk = std::make_unique<Chunk>();
    chunk->items.resize(claimed->size());
    for (size_t i = 0; i < claimed->size(); ++i) {
      Item& it = chunk->items[i];
      it.req = std::move((*claimed)[i]);
      it.status = Resolve(it);
    }
    return chunk;
  }

  void Keys(Chunk& c) {
    // Grain 1: an RSA key takes from tens to hundreds of milliseconds, and a block of 16 of
    // them left to one worker at the end of a chunk kept the other cores idle for seconds.
    // TBB's auto partitioner still hands out larger blocks while the work is even.
    ParallelItems(
        c,
        [&](Item& it) {
          // The SANs are read here rather than in the serial claim stage.
          auto sans = SansFromJson(it.req.sans_json);
          if (!sans.ok()) return sans.status();
          it.sans = std::move(sans).value();
          for (Work& w : it.works) {
            if (w.key->source == profiles::KeySource::kServer) {
              auto kt = ParseKeyType(w.key->algorithm);
              if (!kt.ok()) return kt.status();
              auto key = GenerateSoftKey(*kt);
              if (!key.ok()) return key.status();
              auto spki = SpkiDer(key->get());
              if (!spki.ok()) return spki.status();
              w.private_key = std::move(key).value();
              w.spki = std::move(spki).value();
            } else {
              // Check the CSR again at issuance: proof of possession and the key policy as the
              // profile stands now.
              auto csr = CheckCsr(AsBytes(it.req.csr_der), w.key->allowed_algorithms);
              if (!csr.ok()) return csr.status().Wrap("CSR");
              w.spki = std::move(csr->spki);
            }
          }
          return Status::Ok();
        },
        1);
  }

  void Encode(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        auto p = w.issuer->Prepare(TbsInput{
            Bytes(it.req.subject_der.begin(), it.req.subject_der.end()), w.spki, it.sans, 0});
        if (!p.ok()) return p.status();
        w.prepared = std::move(p).value();
        w.intent = {w.issuer_id,          w.prepared.serial.Hex(), it.req.id,
                    it.req.subject,       w.prepared.not_before,   w.prepared.not_after,
                    w.prepared.tbs_sha256};
      }
      return Status::Ok();
    });
  }

  void RecordIntent(Chunk& c) {
    if (HasFatal()) return;
    for (int attempt = 0;; ++attempt) {
      std::vector<const store::CertIntent*> intents;
      for (const Item& it : c.items) {
        if (!it.status.ok()) continue;
        for (const Work& w : it.works) intents.push_back(&w.intent);
      }
      Status st = store::RunTransaction(*intent_db_, [&](store::Connection& conn) {
        return store::RecordIntents(conn, intents);
      });
      if (st.ok()) return;
      // A serial collision (2^-128 per pair) fails the statement: draw new serials.
      if (st.kind() == ErrorKind::kConflict && attempt < 3) {
        Encode(c);
        continue;
      }
      SetFatal(st.Wrap("recording certificate intents"));
      return;
    }
  }

  void Sign(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        auto der = w.issuer->Sign(w.prepared);
        if (!der.ok()) return der.status();
        w.der.assign(der->begin(), der->end());
      }
      return Status::Ok();
    });
  }

  void Package(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        if (!w.private_key) continue;
        // PKCS#8, sealed under the run's data key; the AAD binds it to its request and key.
        auto pkcs8 = Pkcs8Der(w.private_key.get());
        if (!pkcs8.ok()) return pkcs8.status();
        const std::string aad = PrivateKeyAad(it.req.id, w.key->name);
        auto sealed = AesGcmSeal(AsBytes(dek_.view()), AsBytes(pkcs8->view()), AsBytes(aad));
        w.private_key.reset();
        if (!sealed.ok()) return sealed.status();
        w.key_blob.assign(sealed->begin(), sealed->end());
      }
      return Status::Ok();
    });
  }

  void Persist(std::unique_ptr<Chunk> c) {
    if (HasFatal()) return;
    int64_t issued = 0, failed = 0;
    Status st = store::RunTransaction(*persist_db_, [&](store::Connection& conn) -> Status {
      issued = failed = 0;
      std::vector<std::pair<int64_t, int64_t>> claims;
      for (const Item& it : c->items) claims.emplace_back(it.req.id, it.req.fence);
      CP_ASSIGN_OR_RETURN(std::vector<int64_t> owned,
                          store::OwnedClaims(conn, claims, opt_.claimer));
      std::set<int64_t> mine(owned.begin(), owned.end());
      std::vector<store::SignedCert> certs;
      std::vector<store::EncryptedKey> keys;
      std::vector<int64_t> done;
      std::vector<store::AuditEvent> audit;
      for (const Item& it : c->items) {
        // A request whose lease was taken over by another scheduler is no longer ours to
        // complete: its recorded intent stays as a known, never-delivered serial.
        if (!mine.count(it.req.id)) continue;
        const std::string object = "request:" + std::to_string(it.req.id);
        if (!it.status.ok()) {
          CP_RETURN_IF_ERROR(store::MarkFailed(conn, it.req.id, it.status.message()));
          audit.push_back({opt_.actor, "request.fail", object, it.status.message()});
          ++failed;
          continue;
        }
        std::string serials;
        for (const Work& w : it.works) {
          certs.push_back({&w.intent, w.der});
          if (!w.key_blob.empty())
            keys.push_back({it.req.id, w.key->name, data_key_id_, w.key_blob});
          serials += (serials.empty() ? "" : ",") + w.intent.serial_hex;
        }
        done.push_back(it.req.id);
        audit.push_back({opt_.actor, "request.issue", object,
                         "profile=" + it.req.profile + " serial=" + serials});
        ++issued;
      }
      CP_RETURN_IF_ERROR(store::StoreCertificates(conn, certs));
      CP_RETURN_IF_ERROR(store::StorePrivateKeys(conn, keys));
      CP_RETURN_IF_ERROR(store::MarkIssued(conn, done));
      return store::AppendAuditBatch(conn, audit);
    });
    if (!st.ok()) {
      SetFatal(st.Wrap("persisting a chunk"));
      return;
    }
    summary_.issued += issued;
    summary_.failed += failed;
    if (opt_.on_progress) {
      // The claim stage counts on another thread: a snapshot, not summary_ itself.
      BatchSummary now;
      now.run_id = summary_.run_id;
      now.expected = summary_.expected;
      now.claimed = claimed_.load();
      now.issued = summary_.issued;
      now.failed = summary_.failed;
      opt_.on_progress(now);
    }
  }

  void Release() {
    auto r = store::ReleaseClaims(*claim_db_, opt_.claimer);
    if (r.ok()) summary_.released = *r;
  }

  bool HasFatal() {
    std::lock_guard<std::mutex> lock(fatal_mu_);
    return !summary_.fatal.ok();
  }
  BatchSummary& summary() { return summary_; }

 private:
  // Resolve finds the profile, checks the pinned hash and sets up the work per key.
  Status Resolve(Item& it) {
    auto card = profiles_.Card(it.req.profile);
    if (!card.ok()) return InvalidInput("profile '" + it.req.profile + "' no longer exists");
    it.profile = *card;
    const ByteSpan now(it.profile->content_hash);
    if (AsString(now) != it.req.profile_hash) {
      return InvalidInput("profile '" + it.req.profile +
                          "' changed since the request was made (pinned " +
                          HexEncode(AsBytes(it.req.profile_hash)).substr(0, 12) + ", now " +
                          HexEncode(now).substr(0, 12) + ")");
    }
    for (const auto& key : it.profile->keys) {
      Work w;
      w.key = &key;
      w.issuer_id = it.req.ca_id;
      auto issuer = IssuerFor(it.req.ca_id, key.cert_profile);
      if (!issuer.ok()) return issuer.status();
      w.issuer = *issuer;
      it.works.push_back(std::move(w));
    }
    return Status::Ok();
  }

  // IssuerFor builds issuers in the serial claim stage only; later stages read them.
  Result<const Issuer*> IssuerFor(int64_t ca_id, const std::string& cert_profile) {
    auto key = std::make_pair(ca_id, cert_profile);
    auto it = issuers_.find(key);
    if (it != issuers_.end()) {
      if (!it->second.ok()) return it->second.status();
      return &it->second.value();
    }
    auto made = [&]() -> Result<Issuer> {
      CP_ASSIGN_OR_RETURN(const profiles::CertProfile* cp, profiles_.Certificate(cert_profile));
      CP_ASSIGN_OR_RETURN(CaKey ca, LoadCaKey(*claim_db_, token_, ca_id));
      return Issuer::Create(*cp, std::move(ca));
    }();
    auto [pos, ok] = issuers_.emplace(key, std::move(made));
    if (!pos->second.ok()) return pos->second.status();
    return &pos->second.value();
  }

  // ParallelItems runs |f| over the chunk's healthy items on the arena's workers. A fatal
  // status (HSM, database) stops the run; any other fails that request alone.
  template <class F>
  void ParallelItems(Chunk& c, F f, size_t grain = 16) {
    if (HasFatal()) return;
    tbb::parallel_for(tbb::blocked_range<size_t>(0, c.items.size(), grain),
                      [&](const tbb::blocked_range<size_t>& r) {
                        for (size_t i = r.begin(); i != r.end(); ++i) {
                          Item& it = c.items[i];
                          if (!it.status.ok()) continue;
                          Status st = f(it);
                          if (st.ok()) continue;
                          if (Fatal(st)) SetFatal(st.Wrap("request " + std::to_string(it.req.id)));
                          it.status = st;
                        }
                      });
  }

  void SetFatal(Status s) {
    std::lock_guard<std::mutex> lock(fatal_mu_);
    if (summary_.fatal.ok()) summary_.fatal = std::move(s);
  }

  const profiles::ProfileSet& profiles_;
  CryptoToken& token_;
  const BatchOptions& opt_;
  std::unique_ptr<store::Connection> claim_db_, intent_db_, persist_db_;
  std::optional<std::chrono::steady_clock::time_point> expired_checked_;
  std::atomic<int64_t> claimed_{0};  // the claim stage's count; summary_.claimed at the end
  std::vector<std::string> batch_profiles_;
  bool needs_data_key_ = false;
  SecureString dek_;
  int64_t data_key_id_ = 0;
  std::map<std::pair<int64_t, std::string>, Result<Issuer>> issuers_;
  std::mutex fatal_mu_;
  bool stopped_ = false;
  BatchSummary summary_;
};

}  // namespace

std::string DefaultClaimer() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  uint8_t r[4];
  RAND_bytes(r, sizeof r);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + HexEncode(ByteSpan(r, 4));
}

Result<BatchSummary> RunBatch(const profiles::ProfileSet& profiles, CryptoToken& token,
                              const store::DbConfig& db, const BatchOptions& opt_in) {
  BatchOptions opt = opt_in;
  if (opt.claimer.empty()) opt.claimer = DefaultClaimer();
  if (opt.actor.empty()) opt.actor = "scheduler:" + opt.claimer;
  int threads =
      opt.threads > 0 ? opt.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  int tokens = opt.tokens > 0 ? opt.tokens : 3 * threads;
  if (opt.chunk_size <= 0) return InvalidInput("chunk size must be positive");

  Run run(profiles, token, opt);
  CP_RETURN_IF_ERROR(run.Open(db));
  CP_RETURN_IF_ERROR(run.StartRun());
  Status dk = run.SetUpDataKey();
  if (!dk.ok()) {
    run.summary().fatal = dk;
    run.FinishRun();
    return run.summary();
  }
  auto start = std::chrono::steady_clock::now();
  tbb::task_arena arena(threads);
  arena.execute([&] {
    using tbb::filter_mode;
    // Tokens own their chunk (move-only unique_ptr): a chunk is freed once persisted, so
    // memory is bounded by the tokens in flight, not by the number of requests.
    using ChunkPtr = std::unique_ptr<Chunk>;
    auto stage = [](auto fn) {
      return [fn](ChunkPtr c) {
        fn(*c);
        return c;
      };
    };
    tbb::parallel_pipeline(
        static_cast<size_t>(tokens),
        tbb::make_filter<void, ChunkPtr>(filter_mode::serial_in_order,
                                         [&](tbb::flow_control& fc) -> ChunkPtr {
                                           auto c = run.Claim();
                                           if (!c) fc.stop();
                                           return c;
                                         }) &
            tbb::make_filter<ChunkPtr, ChunkPtr>(filter_mode::parallel,
                                                 stage([&](Chunk& c) { run.Keys(c); })) &
            tbb::make_filter<ChunkPtr, ChunkPtr>(filter_mode::parallel,
                                                 stage([&](Chunk& c) { run.Encode(c); })) &
            tbb::make_filter<ChunkPtr, ChunkPtr>(filter_mode::serial_in_order,
                                                 stage([&](Chunk& c) { run.RecordIntent(c); })) &
            tbb::make_filter<ChunkPtr, ChunkPtr>(filter_mode::parallel,
                                                 stage([&](Chunk& c) { run.Sign(c); })) &
            tbb::make_filter<ChunkPtr, ChunkPtr>(filter_mode::parallel,
                                                 stage([&](Chunk& c) { run.Package(c); })) &
            tbb::make_filter<ChunkPtr, void>(filter_mode::serial_in_order,
                                             [&](ChunkPtr c) { run.Persist(std::move(c)); }));
  });
  run.summary().seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (run.HasFatal() || (opt.stop && opt.stop->load())) run.Release();
  run.FinishRun();
  return run.summary();
}

}  // namespace certpress::batch
