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
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "ca/authorities.h"
#include "ca/issuance.h"
#include "ca/ledger.h"
#include "common/log.h"
#include "common/merkle.h"
#include "common/ossl.h"
#include "kgs/activations.h"
#include "kgs/audit_keys.h"
#include "kgs/letters.h"
#include "kgs/sealed_keys.h"
#include "ra/request_builder.h"
#include "signer/csr.h"
#include "signer/issuer.h"
#include "store/audit.h"
#include "store/certificates.h"
#include "store/requests.h"
#include "store/runs.h"

namespace certpress::batch {

namespace {

// One certificate to make for a request (a soft profile may name several keys).
struct Work {
  const profiles::KeySpec* key = nullptr;
  UniquePtr<EVP_PKEY> private_key;  // server-generated keys only, until packaged
  // Through the issuance core: prepared in the encode stage, recorded, signed, persisted.
  ca::Issuance cert;
  merkle::Hash leaf{};   // the certificate's leaf in its chunk's Merkle tree (parallel stage)
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
         s.kind() == ErrorKind::kDatabase || s.kind() == ErrorKind::kLoginRefused;
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
    ledger_ = std::make_unique<ca::StoreLedger>(*intent_db_);
    for (const auto& [name, card] : profiles_.cards) {
      // PIV cards are issued at personalization stations, not by batch runs.
      if (card.token != profiles::TokenKind::kPiv) batch_profiles_.push_back(name);
      if (card.token == profiles::TokenKind::kSoft) needs_data_key_ = true;
      if (card.delivery == profiles::Delivery::kActivationEmail &&
          card.activation.code == profiles::CodeChannel::kLetter) {
        needs_code_letters_ = true;
      }
    }
    return Status::Ok();
  }

  Status SetUpDataKey() {
    if (!needs_data_key_) return Status::Ok();
    auto dk = kgs::DataKey::Create(*persist_db_, token_, opt_.kek_label, opt_.actor);
    if (!dk.ok()) return dk.status().Wrap("the run's data key");
    data_key_.emplace(std::move(dk).value());
    if (!needs_code_letters_) return Status::Ok();
    // Activation codes that go by post are drawn in the issuing transaction: the activation
    // keys are unwrapped, and the letters' data key drawn, once per run (two HSM calls), so
    // that a letter costs no HSM round trip of its own on the hot path (kgs/letters.h).
    auto keys = kgs::ActivationKeys::Load(*persist_db_, token_, opt_.kek_label, /*create=*/true);
    if (!keys.ok()) return keys.status().Wrap("the activation keys");
    activation_keys_ = std::move(keys).value();
    auto letter_key = kgs::CodeLetterKey::Draw(token_, opt_.kek_label);
    if (!letter_key.ok()) return letter_key.status();
    code_letter_key_.emplace(std::move(letter_key).value());
    return Status::Ok();
  }

  Status StartRun() {
    CP_ASSIGN_OR_RETURN(summary_.expected, store::CountClaimable(*claim_db_, batch_profiles_));
    if (opt_.limit > 0) summary_.expected = std::min(summary_.expected, opt_.limit);
    CP_RETURN_IF_ERROR(store::RunTransaction(*persist_db_, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(summary_.run_id, store::StartRun(c, opt_.claimer));
      return store::AppendAudit(
          c, {opt_.actor, "run.start", "run:" + std::to_string(summary_.run_id),
              "claimer=" + opt_.claimer + " expected=" + std::to_string(summary_.expected) +
                  " lease_seconds=" + std::to_string(opt_.lease_seconds)});
    }));
    log_.Info(
        "run started",
        {{"run", summary_.run_id}, {"claimer", opt_.claimer}, {"expected", summary_.expected}});
    return Status::Ok();
  }

  void FinishRun() {
    summary_.claimed = claimed_.load();
    store::RunOutcome o;
    o.claimed = summary_.claimed;
    o.issued = summary_.issued;
    o.failed = summary_.failed;
    o.certs_per_s =
        static_cast<int64_t>(summary_.seconds > 0 ? summary_.issued / summary_.seconds : 0);
    o.outcome = !summary_.fatal.ok() ? "failed" : stopped_ ? "stopped" : "done";
    o.message = summary_.fatal.message();
    if (!summary_.fatal.ok()) {
      log_.Warn("run stopped by an error", {{"run", summary_.run_id},
                                            {"claimer", opt_.claimer},
                                            {"error", summary_.fatal.message()}});
    }
    Status recorded = store::RunTransaction(*persist_db_, [&](store::Connection& c) -> Status {
      CP_RETURN_IF_ERROR(store::FinishRun(c, summary_.run_id, o));
      return store::AppendAudit(
          c, {opt_.actor, "run.finish", "run:" + std::to_string(summary_.run_id),
              "outcome=" + o.outcome + " claimed=" + std::to_string(o.claimed) +
                  " issued=" + std::to_string(o.issued) + " failed=" + std::to_string(o.failed) +
                  " released=" + std::to_string(summary_.released) +
                  (o.message.empty() ? "" : " message=" + o.message)});
    });
    // Recording the outcome is best effort (the database may be what failed); say so.
    if (!recorded.ok()) {
      log_.Warn("run outcome not recorded",
                {{"run", summary_.run_id}, {"error", recorded.message()}});
    }
    // Every run ends with a signed checkpoint of the audit chain's head (kgs/audit_keys.h).
    auto cp = kgs::WriteCheckpoint(*persist_db_, token_, opt_.checkpoint_file);
    if (!cp.ok()) {
      log_.Warn("audit checkpoint not written",
                {{"run", summary_.run_id}, {"error", cp.status().message()}});
    }
    log_.Info("run finished", {{"run", summary_.run_id},
                               {"claimer", opt_.claimer},
                               {"outcome", o.outcome},
                               {"expected", summary_.expected},
                               {"claimed", summary_.claimed},
                               {"issued", summary_.issued},
                               {"failed", summary_.failed},
                               {"released", summary_.released},
                               {"seconds", summary_.seconds}});
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
                                        opt_.lease_seconds, expired, opt_.actor);
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
          auto sans = ra::SansFromJson(it.req.sans_json);
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
              w.cert.tbs.spki = std::move(spki).value();
            } else {
              // Check the CSR again at issuance: proof of possession and the key policy as the
              // profile stands now.
              auto csr = CheckCsr(AsBytes(it.req.csr_der), w.key->allowed_algorithms);
              if (!csr.ok()) return csr.status().Wrap("CSR");
              w.cert.tbs.spki = std::move(csr->spki);
            }
          }
          return Status::Ok();
        },
        1);
  }

  void Encode(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        w.cert.request_id = it.req.id;
        w.cert.subject = it.req.subject;
        w.cert.tbs.subject_der.assign(it.req.subject_der.begin(), it.req.subject_der.end());
        w.cert.tbs.sans = it.sans;
        CP_RETURN_IF_ERROR(ca::Prepare(w.cert));
      }
      return Status::Ok();
    });
  }

  void RecordIntent(Chunk& c) {
    if (HasFatal()) return;
    std::vector<ca::Issuance*> certs;
    for (Item& it : c.items) {
      if (!it.status.ok()) continue;
      for (Work& w : it.works) certs.push_back(&w.cert);
    }
    Status st = ca::Record(*ledger_, certs);
    if (!st.ok()) SetFatal(std::move(st));
  }

  void Sign(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        CP_RETURN_IF_ERROR(ca::Sign(w.cert));
        // Hashed here, in parallel, not in the serial persist stage that needs it.
        w.leaf = ca::CertificateLeaf(ca::SignedCertOf(w.cert));
      }
      return Status::Ok();
    });
  }

  void Package(Chunk& c) {
    ParallelItems(c, [&](Item& it) {
      for (Work& w : it.works) {
        if (!w.private_key) continue;
        // Sealed under the run's data key, bound to its request and key name.
        auto sealed = data_key_->Seal(w.private_key.get(), it.req.id, w.key->name);
        w.private_key.reset();
        if (!sealed.ok()) return sealed.status();
        w.key_blob = std::move(sealed).value();
      }
      return Status::Ok();
    });
  }

  void Persist(std::unique_ptr<Chunk> c) {
    if (HasFatal()) return;
    int64_t issued = 0, failed = 0, appended = 0;
    Status st = store::RunTransaction(*persist_db_, [&](store::Connection& conn) -> Status {
      issued = failed = appended = 0;
      std::vector<std::pair<int64_t, int64_t>> claims;
      for (const Item& it : c->items) claims.emplace_back(it.req.id, it.req.fence);
      CP_ASSIGN_OR_RETURN(std::vector<int64_t> owned,
                          store::OwnedClaims(conn, claims, opt_.claimer));
      std::set<int64_t> mine(owned.begin(), owned.end());
      std::vector<store::SignedCert> certs;
      std::vector<merkle::Hash> leaves;
      std::vector<store::EncryptedKey> keys;
      std::vector<int64_t> done;
      std::vector<store::AuditEvent> audit;
      // Requests delivered by activation email get their activation and its mail in this
      // transaction (a transactional outbox); one whose recipient does not render fails alone.
      std::vector<std::pair<int64_t, const profiles::CardProfile*>> mailed;
      for (const Item& it : c->items) {
        if (mine.count(it.req.id) && it.status.ok()) mailed.emplace_back(it.req.id, it.profile);
      }
      CP_ASSIGN_OR_RETURN(kgs::PlannedActivations activations,
                          kgs::PlanActivations(conn, mailed, activation_keys_.get()));
      for (const Item& it : c->items) {
        // A request whose lease was taken over by another scheduler is no longer ours to
        // complete: its recorded intent stays as a known, never-delivered serial.
        if (!mine.count(it.req.id)) continue;
        auto unmailable = activations.failed.find(it.req.id);
        const Status& item_status =
            unmailable != activations.failed.end() ? unmailable->second : it.status;
        if (!item_status.ok()) {
          const std::string object = "request:" + std::to_string(it.req.id);
          CP_RETURN_IF_ERROR(store::MarkFailed(conn, it.req.id, item_status.message()));
          audit.push_back({opt_.actor, "request.fail", object, item_status.message()});
          ++failed;
          continue;
        }
        for (const Work& w : it.works) {
          certs.push_back(ca::SignedCertOf(w.cert));
          leaves.push_back(w.leaf);
          if (!w.key_blob.empty())
            keys.push_back({it.req.id, w.key->name, data_key_->id(), w.key_blob});
        }
        done.push_back(it.req.id);
        ++issued;
      }
      // Activation codes that go by post: their letters, sealed, in this transaction too, and
      // one audit entry for them all.
      if (!activations.letters.empty()) {
        store::AuditEvent created;
        CP_RETURN_IF_ERROR(kgs::StoreCodeLetters(conn, *code_letter_key_, activations.letters,
                                                 opt_.actor, &created)
                               .status());
        audit.push_back(std::move(created));
      }
      // The chunk's certificates are audited as one entry carrying their Merkle root (RFC
      // 6962): one row instead of one per request on the hot path, and each certificate stays
      // provable (`certpress audit prove`). It goes first, so its sequence number is known.
      if (!certs.empty()) {
        audit.insert(
            audit.begin(),
            store::AuditEvent{opt_.actor, "chunk.issue", "run:" + std::to_string(summary_.run_id),
                              "requests=" + std::to_string(done.size()) +
                                  " certificates=" + std::to_string(certs.size()) +
                                  " root=" + HexEncode(merkle::Root(leaves))});
      }
      int64_t first_seq = 0;
      CP_RETURN_IF_ERROR(store::AppendAuditBatch(conn, audit, &first_seq));
      appended = static_cast<int64_t>(audit.size());
      for (size_t i = 0; i < certs.size(); ++i) {
        certs[i].audit_seq = first_seq;
        certs[i].leaf_index = static_cast<int>(i);
      }
      CP_RETURN_IF_ERROR(store::StoreCertificates(conn, certs));
      CP_RETURN_IF_ERROR(store::StorePrivateKeys(conn, keys));
      CP_RETURN_IF_ERROR(kgs::QueueActivations(conn, activations.rows));
      return store::MarkIssued(conn, done);
    });
    if (!st.ok()) {
      SetFatal(st.Wrap("persisting a chunk"));
      return;
    }
    summary_.issued += issued;
    summary_.failed += failed;
    audited_since_checkpoint_ += appended;
    if (opt_.checkpoint_every > 0 && audited_since_checkpoint_ >= opt_.checkpoint_every) {
      audited_since_checkpoint_ = 0;
      auto cp = kgs::WriteCheckpoint(*persist_db_, token_, opt_.checkpoint_file);
      if (!cp.ok()) {
        log_.Warn("audit checkpoint not written",
                  {{"run", summary_.run_id}, {"error", cp.status().message()}});
      }
    }
    log_.Debug("chunk persisted", {{"run", summary_.run_id},
                                   {"requests", c->items.size()},
                                   {"issued", issued},
                                   {"failed", failed}});
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

  // KeepLeases renews this run's leases every third of a lease, on a connection of its own,
  // until |done|: a chunk whose signing outlasts the lease (slow keys, a large chunk, a busy
  // HSM) is never taken over, by another scheduler or by this run's own next claim, while
  // the run is alive. A run that dies stops renewing, and its leases run out as before.
  // Renewal that fails is an outage: the run stops claiming (SetFatal).
  void KeepLeases(const store::DbConfig& db, std::mutex& mu, std::condition_variable& cv,
                  const bool& done) {
    auto conn = store::Connection::Open(db);
    if (!conn.ok()) {
      SetFatal(conn.status().Wrap("opening the lease renewal connection"));
      return;
    }
    const auto every = std::chrono::milliseconds(std::max(opt_.lease_seconds * 1000 / 3, 100));
    std::unique_lock<std::mutex> lock(mu);
    while (!cv.wait_for(lock, every, [&] { return done; })) {
      lock.unlock();
      auto renewed = store::RenewLeases(**conn, opt_.claimer, opt_.lease_seconds);
      lock.lock();
      if (!renewed.ok()) {
        SetFatal(renewed.status());
        return;
      }
    }
  }

  // GiveBackClaims returns every request this claimer still holds to the queue, in a
  // transaction that is retried and reconnects: a run whose database node died releases them
  // through the node its connection moves to (db.hosts), instead of leaving them to wait out
  // their lease. |what| names them in the warning when that fails too.
  Result<int64_t> GiveBackClaims(std::string_view what) {
    int64_t released = 0;
    Status st = store::RunTransaction(*claim_db_, [&](store::Connection& c) -> Status {
      CP_ASSIGN_OR_RETURN(released, store::ReleaseClaims(c, opt_.claimer));
      return Status::Ok();
    });
    if (!st.ok()) {
      log_.Warn(std::string(what) + " not released; they wait out their lease",
                {{"run", summary_.run_id}, {"error", st.message()}});
      return st;
    }
    return released;
  }

  // Release gives this run's claims back when it ends.
  void Release() {
    auto released = GiveBackClaims("claims");
    if (released.ok()) summary_.released = *released;
  }

  // ReleaseOrphans runs when a pass of the pipeline has ended normally: every chunk this run
  // knew of is persisted or failed, so a request still claimed by this claimer is one whose
  // claim committed although the process was told otherwise (its database node died during
  // the COMMIT, Galera had already replicated it, and the retried claim took other rows; they
  // were never counted as claimed). Such claims are given back, so that
  // this run (another pass) or another scheduler issues them now instead of after their lease.
  int64_t ReleaseOrphans() {
    auto released = GiveBackClaims("orphaned claims");
    if (!released.ok()) return 0;
    const int64_t n = *released;
    if (n > 0) {
      log_.Warn("released claims whose commit was not confirmed (a database node died)",
                {{"run", summary_.run_id}, {"released", n}});
    }
    return n;
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
      w.cert.issuer_id = it.req.ca_id;
      auto issuer = IssuerFor(it.req.ca_id, key.cert_profile);
      if (!issuer.ok()) return issuer.status();
      w.cert.issuer = *issuer;
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
      CP_ASSIGN_OR_RETURN(CaKey ca, ca::LoadCaKey(*claim_db_, token_, ca_id));
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
  const log::Logger log_ = log::Get("batch");
  std::unique_ptr<store::Connection> claim_db_, intent_db_, persist_db_;
  std::unique_ptr<ca::StoreLedger> ledger_;  // records intents on intent_db_
  std::optional<std::chrono::steady_clock::time_point> expired_checked_;
  std::atomic<int64_t> claimed_{0};  // the claim stage's count; summary_.claimed at the end
  std::vector<std::string> batch_profiles_;
  bool needs_data_key_ = false;
  std::optional<kgs::DataKey> data_key_;  // soft profiles' private keys are sealed under it
  // Profiles whose activation code goes by post: the keys that draw codes, the letters' key.
  bool needs_code_letters_ = false;
  std::shared_ptr<const kgs::ActivationKeys> activation_keys_;
  std::optional<kgs::CodeLetterKey> code_letter_key_;
  int64_t audited_since_checkpoint_ = 0;  // the persist stage's entries since a checkpoint
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
  if (RAND_bytes(r, sizeof r) != 1) {
    // The suffix only tells two processes of one pid apart (a restart); any varying value
    // serves, so a CSPRNG failure falls back to the clock rather than failing the run.
    const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
    std::memcpy(r, &t, sizeof r);
  }
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
  std::mutex lease_mu;
  std::condition_variable lease_cv;
  bool lease_done = false;
  std::thread lease_keeper([&] { run.KeepLeases(db, lease_mu, lease_cv, lease_done); });
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
    auto pass = [&] {
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
    };
    // Another pass only for claims orphaned by a node's death (ReleaseOrphans); bounded, since
    // each pass can only meet what a further node failure orphans.
    for (int passes = 0; passes < 4; ++passes) {
      pass();
      if (run.HasFatal() || (opt.stop && opt.stop->load())) break;
      if (run.ReleaseOrphans() == 0) break;
    }
  });
  {
    std::lock_guard<std::mutex> lock(lease_mu);
    lease_done = true;
  }
  lease_cv.notify_all();
  lease_keeper.join();
  run.summary().seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (run.HasFatal() || (opt.stop && opt.stop->load())) run.Release();
  run.FinishRun();
  return run.summary();
}

}  // namespace certpress::batch
