#include "kgs/pcsc.h"

#include <openssl/crypto.h>
#include <winscard.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

namespace certpress::kgs {

namespace {

const char* CodeName(LONG rv) {
  switch (rv) {
    case SCARD_S_SUCCESS:
      return "SCARD_S_SUCCESS";
    case SCARD_E_CANCELLED:
      return "SCARD_E_CANCELLED";
    case SCARD_E_INVALID_HANDLE:
      return "SCARD_E_INVALID_HANDLE";
    case SCARD_E_NO_SERVICE:
      return "SCARD_E_NO_SERVICE";
    case SCARD_E_NO_SMARTCARD:
      return "SCARD_E_NO_SMARTCARD";
    case SCARD_E_NO_READERS_AVAILABLE:
      return "SCARD_E_NO_READERS_AVAILABLE";
    case SCARD_E_READER_UNAVAILABLE:
      return "SCARD_E_READER_UNAVAILABLE";
    case SCARD_E_SHARING_VIOLATION:
      return "SCARD_E_SHARING_VIOLATION";
    case SCARD_E_TIMEOUT:
      return "SCARD_E_TIMEOUT";
    case SCARD_E_UNKNOWN_READER:
      return "SCARD_E_UNKNOWN_READER";
    case SCARD_E_PROTO_MISMATCH:
      return "SCARD_E_PROTO_MISMATCH";
    case SCARD_E_NOT_TRANSACTED:
      return "SCARD_E_NOT_TRANSACTED";
    case SCARD_F_COMM_ERROR:
      return "SCARD_F_COMM_ERROR";
    case SCARD_W_REMOVED_CARD:
      return "SCARD_W_REMOVED_CARD";
    case SCARD_W_RESET_CARD:
      return "SCARD_W_RESET_CARD";
    case SCARD_W_UNPOWERED_CARD:
      return "SCARD_W_UNPOWERED_CARD";
    case SCARD_W_UNRESPONSIVE_CARD:
      return "SCARD_W_UNRESPONSIVE_CARD";
    default:
      return "SCARD_?";
  }
}

std::string Describe(const char* call, LONG rv) {
  return std::string(call) + ": " + CodeName(rv) + " (" + pcsc_stringify_error(rv) + ")";
}

Status PcscError(const char* call, LONG rv) {
  if (rv == SCARD_E_NO_SERVICE || rv == SCARD_E_SHARING_VIOLATION || rv == SCARD_E_TIMEOUT) {
    return Unavailable(Describe(call, rv));
  }
  return CardError(Describe(call, rv));
}

bool IsRemoved(LONG rv) {
  return rv == SCARD_W_REMOVED_CARD || rv == SCARD_E_NO_SMARTCARD ||
         rv == SCARD_E_READER_UNAVAILABLE;
}

constexpr char kPnp[] = "\\\\?PnP?\\Notification";

}  // namespace

Result<PcscContext> PcscContext::Establish() {
  SCARDCONTEXT h = 0;
  LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, nullptr, nullptr, &h);
  if (rv != SCARD_S_SUCCESS) return PcscError("SCardEstablishContext", rv);
  return PcscContext(static_cast<uintptr_t>(h));
}

PcscContext& PcscContext::operator=(PcscContext&& o) noexcept {
  if (this != &o) {
    if (h_ != 0) SCardReleaseContext(static_cast<SCARDCONTEXT>(h_));
    h_ = o.h_;
    o.h_ = 0;
  }
  return *this;
}

PcscContext::~PcscContext() {
  if (h_ != 0) SCardReleaseContext(static_cast<SCARDCONTEXT>(h_));
}

Result<std::vector<std::string>> PcscContext::ListReaders() const {
  const auto ctx = static_cast<SCARDCONTEXT>(h_);
  // The list can change between the size query and the read: retry a few times.
  for (int attempt = 0; attempt < 5; ++attempt) {
    DWORD len = 0;
    LONG rv = SCardListReaders(ctx, nullptr, nullptr, &len);
    if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
    if (rv != SCARD_S_SUCCESS) return PcscError("SCardListReaders", rv);
    std::string buf(len, '\0');
    rv = SCardListReaders(ctx, nullptr, buf.data(), &len);
    if (rv == SCARD_E_INSUFFICIENT_BUFFER) continue;
    if (rv == SCARD_E_NO_READERS_AVAILABLE) return std::vector<std::string>{};
    if (rv != SCARD_S_SUCCESS) return PcscError("SCardListReaders", rv);
    buf.resize(std::min<size_t>(len, buf.size()));
    std::vector<std::string> out;
    // A multi-string: names separated by NULs, ended by an empty one.
    for (size_t p = 0; p < buf.size() && buf[p] != '\0';) {
      const size_t end = buf.find('\0', p);
      out.push_back(buf.substr(p, end == std::string::npos ? std::string::npos : end - p));
      if (end == std::string::npos) break;
      p = end + 1;
    }
    return out;
  }
  return Unavailable("SCardListReaders: the reader list kept changing");
}

void PcscContext::Cancel() const {
  if (h_ != 0) SCardCancel(static_cast<SCARDCONTEXT>(h_));
}

Result<std::unique_ptr<PcscCard>> PcscCard::Connect(const PcscContext& ctx,
                                                    const std::string& reader) {
  SCARDHANDLE h = 0;
  DWORD protocol = 0;
  LONG rv = SCardConnect(static_cast<SCARDCONTEXT>(ctx.handle()), reader.c_str(),
                         SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h, &protocol);
  if (rv != SCARD_S_SUCCESS) return PcscError("SCardConnect", rv).Wrap("reader " + reader);
  std::unique_ptr<PcscCard> card(new PcscCard(static_cast<uintptr_t>(h), protocol, reader));
  CP_RETURN_IF_ERROR(card->ReadAtr());
  return card;
}

PcscCard::~PcscCard() {
  if (h_ != 0) {
    SCardDisconnect(static_cast<SCARDHANDLE>(h_),
                    reset_on_close_ ? SCARD_RESET_CARD : SCARD_LEAVE_CARD);
  }
}

Status PcscCard::ReadAtr() {
  BYTE atr[MAX_ATR_SIZE];
  DWORD atr_len = sizeof atr;
  DWORD state = 0, protocol = 0;
  char name[256];
  DWORD name_len = sizeof name;
  LONG rv =
      SCardStatus(static_cast<SCARDHANDLE>(h_), name, &name_len, &state, &protocol, atr, &atr_len);
  if (rv != SCARD_S_SUCCESS) return PcscError("SCardStatus", rv).Wrap("reader " + reader_);
  atr_.assign(atr, atr + atr_len);
  return Status::Ok();
}

RawResponse PcscCard::Transmit(ByteSpan command) {
  RawResponse out;
  const SCARD_IO_REQUEST* pci = protocol_ == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
  // A short response is at most 256 data bytes and the status word.
  out.bytes.resize(256 + 2);
  DWORD len = out.bytes.size();
  LONG rv = SCardTransmit(static_cast<SCARDHANDLE>(h_), pci, command.data(), command.size(),
                          nullptr, out.bytes.data(), &len);
  if (rv == SCARD_S_SUCCESS) {
    out.bytes.resize(len);
    return out;
  }
  out.bytes.clear();
  out.detail = Describe("SCardTransmit", rv);
  if (IsRemoved(rv)) {
    out.link = Link::kRemoved;
  } else if (rv == SCARD_W_RESET_CARD) {
    out.link = Link::kReset;
  } else if (rv == SCARD_E_TIMEOUT || rv == SCARD_W_UNRESPONSIVE_CARD) {
    out.link = Link::kTimeout;
  } else {
    out.link = Link::kError;
  }
  return out;
}

Result<Bytes> PcscCard::Reconnect() {
  DWORD protocol = 0;
  LONG rv = SCardReconnect(static_cast<SCARDHANDLE>(h_), SCARD_SHARE_SHARED,
                           SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, SCARD_LEAVE_CARD, &protocol);
  if (rv != SCARD_S_SUCCESS) return PcscError("SCardReconnect", rv).Wrap("reader " + reader_);
  protocol_ = protocol;
  CP_RETURN_IF_ERROR(ReadAtr());
  return atr_;
}

Status PcscCard::BeginTransaction() {
  LONG rv = SCardBeginTransaction(static_cast<SCARDHANDLE>(h_));
  if (rv == SCARD_W_RESET_CARD) {
    // Someone reset the card since we connected: reconnect once and try again.
    auto atr = Reconnect();
    if (!atr.ok()) return atr.status();
    rv = SCardBeginTransaction(static_cast<SCARDHANDLE>(h_));
  }
  if (rv != SCARD_S_SUCCESS) {
    return PcscError("SCardBeginTransaction", rv).Wrap("reader " + reader_);
  }
  return Status::Ok();
}

void PcscCard::EndTransaction() {
  SCardEndTransaction(static_cast<SCARDHANDLE>(h_), SCARD_LEAVE_CARD);
}

Result<PcscTransaction> PcscTransaction::Begin(PcscCard& card) {
  CP_RETURN_IF_ERROR(card.BeginTransaction());
  return PcscTransaction(&card);
}

// The I/O thread's state. Jobs are posted one at a time; only the I/O thread touches the PC/SC
// objects.
struct GuardedCard::Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::function<void()> job;  // the job to run, empty when none
  uint64_t posted = 0;        // jobs posted
  uint64_t finished = 0;      // jobs finished
  bool quit = false;          // the owner is gone: clean up and end
  bool abandoned = false;     // a job ran past its deadline
  bool closed = false;        // the card is disconnected and the context released
  // Touched only by the I/O thread:
  std::optional<PcscContext> ctx;
  std::unique_ptr<PcscCard> card;
  bool in_transaction = false;

  void Loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait(lock, [&] { return quit || job; });
      if (job) {
        std::function<void()> run = std::move(job);
        job = nullptr;
        lock.unlock();
        run();
        lock.lock();
        ++finished;
        cv.notify_all();
        continue;
      }
      if (quit) break;
    }
    lock.unlock();
    // The card leaves with no PIN verified and no key authenticated (SCARD_RESET_CARD), then
    // the context goes; all on this thread, which is the context's own.
    if (card) {
      if (in_transaction) card->EndTransaction();
      card->ResetOnClose();
      card.reset();
    }
    ctx.reset();
    std::lock_guard<std::mutex> done(mu);
    closed = true;
    cv.notify_all();
  }
};

Result<std::unique_ptr<GuardedCard>> GuardedCard::Open(const std::string& reader,
                                                       std::chrono::milliseconds timeout) {
  auto shared = std::make_shared<Shared>();
  // The thread holds the state too: it outlives the GuardedCard when the card is given up.
  std::thread([shared] { shared->Loop(); }).detach();
  std::unique_ptr<GuardedCard> guarded(new GuardedCard(shared, timeout));
  // Jobs hold only shared state: one given up may still finish after its caller returned.
  struct Opened {
    Status status = Internal("not run");
    Bytes atr;
  };
  auto opened = std::make_shared<Opened>();
  const bool in_time = guarded->Run([opened, shared, reader] {
    opened->status = [&]() -> Status {
      CP_ASSIGN_OR_RETURN(PcscContext ctx, PcscContext::Establish());
      shared->ctx.emplace(std::move(ctx));
      CP_ASSIGN_OR_RETURN(shared->card, PcscCard::Connect(*shared->ctx, reader));
      CP_RETURN_IF_ERROR(shared->card->BeginTransaction());
      shared->in_transaction = true;
      opened->atr = shared->card->atr();
      return Status::Ok();
    }();
  });
  if (!in_time) {
    return Unavailable("reader " + reader + ": connecting to the card took more than " +
                       std::to_string(timeout.count()) + " ms");
  }
  CP_RETURN_IF_ERROR(opened->status);
  guarded->atr_ = std::move(opened->atr);
  return guarded;
}

GuardedCard::~GuardedCard() {
  std::unique_lock<std::mutex> lock(shared_->mu);
  shared_->quit = true;
  shared_->cv.notify_all();
  // A card that answers is reset and disconnected before this returns (the next application
  // finds it in its reset state); one given up is left to its thread.
  if (!shared_->abandoned) {
    shared_->cv.wait_for(lock, timeout_, [&] { return shared_->closed; });
  }
}

bool GuardedCard::abandoned() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->abandoned;
}

bool GuardedCard::Run(std::function<void()> job) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  if (shared_->abandoned) return false;  // a call is still blocked: nothing else can run
  shared_->job = std::move(job);
  const uint64_t ticket = ++shared_->posted;
  shared_->cv.notify_all();
  const bool in_time =
      shared_->cv.wait_for(lock, timeout_, [&] { return shared_->finished >= ticket; });
  if (!in_time) shared_->abandoned = true;
  return in_time;
}

RawResponse GuardedCard::Transmit(ByteSpan command) {
  const bool earlier = abandoned();
  auto apdu = std::make_shared<Bytes>(command.begin(), command.end());
  auto result = std::make_shared<RawResponse>();
  auto shared = shared_;
  const bool in_time = Run([result, shared, apdu] {
    *result = shared->card->Transmit(*apdu);
    OPENSSL_cleanse(apdu->data(), apdu->size());  // it may hold a PIN or a key
  });
  if (in_time) return std::move(*result);
  RawResponse out;
  out.link = Link::kTimeout;
  out.detail = earlier ? "the card stopped answering an earlier command and was given up"
                       : "no answer from the card within " + std::to_string(timeout_.count()) +
                             " ms; the card is given up (SCardTransmit still blocked)";
  return out;
}

Result<Bytes> GuardedCard::Reconnect() {
  auto result = std::make_shared<Result<Bytes>>(Internal("not run"));
  auto shared = shared_;
  if (!Run([result, shared] { *result = shared->card->Reconnect(); })) {
    return Unavailable("the card did not reconnect within " + std::to_string(timeout_.count()) +
                       " ms");
  }
  return std::move(*result);
}

Status ReaderWatcher::Refresh(std::vector<ReaderEvent>& events) {
  std::vector<std::string> now;
  if (only_.empty()) {
    CP_ASSIGN_OR_RETURN(now, ctx_.ListReaders());
  } else {
    CP_ASSIGN_OR_RETURN(auto all, ctx_.ListReaders());
    for (const auto& r : only_) {
      if (std::find(all.begin(), all.end(), r) != all.end()) now.push_back(r);
    }
  }
  // Readers gone: their cards are gone too.
  for (auto it = known_.begin(); it != known_.end();) {
    if (std::find(now.begin(), now.end(), it->name) == now.end()) {
      if (it->state & SCARD_STATE_PRESENT) events.push_back({ReaderEvent::kCardRemoved, it->name});
      events.push_back({ReaderEvent::kReaderRemoved, it->name});
      it = known_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& r : now) {
    if (std::none_of(known_.begin(), known_.end(), [&](const Known& k) { return k.name == r; })) {
      known_.push_back({r, SCARD_STATE_UNAWARE});
      events.push_back({ReaderEvent::kReaderAdded, r});
    }
  }
  return Status::Ok();
}

Result<std::vector<ReaderEvent>> ReaderWatcher::Wait(std::chrono::milliseconds timeout) {
  std::vector<ReaderEvent> events;
  if (!started_) {
    CP_RETURN_IF_ERROR(Refresh(events));
    started_ = true;
  }
  std::vector<SCARD_READERSTATE> states(known_.size() + 1);
  for (size_t i = 0; i < known_.size(); ++i) {
    states[i].szReader = known_[i].name.c_str();
    states[i].dwCurrentState = known_[i].state;
  }
  states.back().szReader = kPnp;
  states.back().dwCurrentState = pnp_state_;
  // Cards already present show up at once: a reader whose state we do not know yet
  // (UNAWARE) returns immediately.
  LONG rv = SCardGetStatusChange(static_cast<SCARDCONTEXT>(ctx_.handle()),
                                 static_cast<DWORD>(timeout.count()), states.data(),
                                 static_cast<DWORD>(states.size()));
  if (rv == SCARD_E_TIMEOUT || rv == SCARD_E_CANCELLED) return events;
  if (rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE) {
    // A reader left while we waited: the refresh below reports it.
    CP_RETURN_IF_ERROR(Refresh(events));
    return events;
  }
  if (rv != SCARD_S_SUCCESS) return PcscError("SCardGetStatusChange", rv);
  for (size_t i = 0; i < known_.size(); ++i) {
    const DWORD before = known_[i].state;
    const DWORD after = states[i].dwEventState & ~SCARD_STATE_CHANGED;
    known_[i].state = after;
    const bool was = before & SCARD_STATE_PRESENT, is = after & SCARD_STATE_PRESENT;
    // A card swapped between two waits shows as a changed event count (upper 16 bits).
    const bool swapped =
        was && is && (before >> 16) != (after >> 16) && before != SCARD_STATE_UNAWARE;
    if ((was && !is) || swapped) events.push_back({ReaderEvent::kCardRemoved, known_[i].name});
    if ((!was && is) || swapped) {
      ReaderEvent e{ReaderEvent::kCardInserted, known_[i].name};
      e.atr.assign(states[i].rgbAtr, states[i].rgbAtr + states[i].cbAtr);
      events.push_back(std::move(e));
    }
  }
  const DWORD pnp = states.back().dwEventState & ~SCARD_STATE_CHANGED;
  const bool pnp_changed = pnp_state_ != 0 && pnp != pnp_state_;
  pnp_state_ = pnp;
  if (pnp_changed || (states.back().dwEventState & SCARD_STATE_CHANGED)) {
    CP_RETURN_IF_ERROR(Refresh(events));
  }
  return events;
}

}  // namespace certpress::kgs
