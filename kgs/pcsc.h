// pcsc.h: PC/SC (pcsc-lite) behind move-only RAII types: a context, a connected card (which
// is a CardTransport, kgs/apdu.h), a transaction, and a watcher of readers and cards. This
// file and pcsc.cc are the only ones that include winscard.h (scripts/check-layers); nothing
// above kgs/ sees a SCARDHANDLE. PC/SC return codes stay in messages by name
// ("SCardConnect: SCARD_E_NO_SMARTCARD (No smart card inserted.)").
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/status.h"
#include "kgs/apdu.h"

namespace certpress::kgs {

class PcscContext {
 public:
  // Establish opens a PC/SC context (SCardEstablishContext, SCARD_SCOPE_SYSTEM).
  static Result<PcscContext> Establish();
  PcscContext(PcscContext&& o) noexcept : h_(o.h_) { o.h_ = 0; }
  PcscContext& operator=(PcscContext&& o) noexcept;
  PcscContext(const PcscContext&) = delete;
  PcscContext& operator=(const PcscContext&) = delete;
  ~PcscContext();

  // ListReaders names the readers present (none is an empty list, not an error).
  Result<std::vector<std::string>> ListReaders() const;
  // Cancel wakes a thread waiting in ReaderWatcher::Wait on this context (SCardCancel); safe
  // from another thread.
  void Cancel() const;
  uintptr_t handle() const { return h_; }

 private:
  explicit PcscContext(uintptr_t h) : h_(h) {}
  uintptr_t h_ = 0;  // SCARDCONTEXT
};

// PcscCard is a card connected in shared mode (T=0 or T=1), disconnected (left as it is) when
// destroyed.
class PcscCard final : public CardTransport {
 public:
  static Result<std::unique_ptr<PcscCard>> Connect(const PcscContext& ctx,
                                                   const std::string& reader);
  PcscCard(const PcscCard&) = delete;
  PcscCard& operator=(const PcscCard&) = delete;
  ~PcscCard() override;

  RawResponse Transmit(ByteSpan command) override;
  Result<Bytes> Reconnect() override;
  bool ExtendedLength() const override { return false; }

  const Bytes& atr() const { return atr_; }
  const std::string& reader() const { return reader_; }
  // ResetOnClose makes the disconnect reset the card (SCARD_RESET_CARD) instead of leaving it
  // as it is: a personalized card must not stay in the reader with its PIN verified and the
  // management key authenticated for the next application that connects.
  void ResetOnClose() { reset_on_close_ = true; }

  // Begin/End a PC/SC transaction (exclusive use of the card across several APDUs; SP
  // 800-73-4 does not require one, but a second application interleaving its APDUs with a
  // personalization would break it). Use PcscTransaction rather than these.
  [[nodiscard]] Status BeginTransaction();
  void EndTransaction();

 private:
  PcscCard(uintptr_t h, unsigned long protocol, std::string reader)
      : h_(h), protocol_(protocol), reader_(std::move(reader)) {}
  Status ReadAtr();

  uintptr_t h_ = 0;  // SCARDHANDLE
  unsigned long protocol_ = 0;
  bool reset_on_close_ = false;
  std::string reader_;
  Bytes atr_;
};

// PcscTransaction holds a PC/SC transaction on a card for its lifetime.
class PcscTransaction {
 public:
  static Result<PcscTransaction> Begin(PcscCard& card);
  PcscTransaction(PcscTransaction&& o) noexcept : card_(o.card_) { o.card_ = nullptr; }
  PcscTransaction& operator=(PcscTransaction&&) = delete;
  PcscTransaction(const PcscTransaction&) = delete;
  ~PcscTransaction() {
    if (card_ != nullptr) card_->EndTransaction();
  }

 private:
  explicit PcscTransaction(PcscCard* card) : card_(card) {}
  PcscCard* card_;
};

// GuardedCard is a card connected in |reader| with a PC/SC context and transaction of its own,
// every PC/SC call of which runs on a thread of its own and is waited for at most |timeout|.
// Why: pcsc-lite's SCardTransmit blocks until the reader driver answers, with no timeout of
// its own, and nothing unblocks it from outside: SCardCancel only cancels SCardGetStatusChange
// (pcsc-lite winscard_clnt.c: only a "cancellable" call), and SCardDisconnect or
// SCardReleaseContext from another thread wait for the context's lock that the blocked
// SCardTransmit holds. A card that never answers (a hung card or reader) would hold its
// station thread, and everything joining it, for ever. Past the deadline the card is given up:
// the call returns Link::kTimeout, every later call too, and the thread is left to finish the
// blocked call, then disconnects (SCARD_RESET_CARD) and releases its context on its own.
class GuardedCard final : public CardTransport {
 public:
  // Open establishes a context, connects (SCardConnect may wait for another application's
  // transaction on the card, so it is bounded too) and begins a transaction.
  static Result<std::unique_ptr<GuardedCard>> Open(const std::string& reader,
                                                   std::chrono::milliseconds timeout);
  GuardedCard(const GuardedCard&) = delete;
  GuardedCard& operator=(const GuardedCard&) = delete;
  ~GuardedCard() override;

  RawResponse Transmit(ByteSpan command) override;
  Result<Bytes> Reconnect() override;
  bool ExtendedLength() const override { return false; }

  const Bytes& atr() const { return atr_; }
  // abandoned reports whether a call ran past the deadline (the card is given up).
  bool abandoned() const;

  struct Shared;  // the I/O thread's state (pcsc.cc)

 private:
  GuardedCard(std::shared_ptr<Shared> shared, std::chrono::milliseconds timeout)
      : shared_(std::move(shared)), timeout_(timeout) {}
  // Run runs |job| on the I/O thread and waits for it up to the timeout; false: given up.
  bool Run(std::function<void()> job);

  std::shared_ptr<Shared> shared_;
  std::chrono::milliseconds timeout_;
  Bytes atr_;
};

struct ReaderEvent {
  enum Kind { kReaderAdded, kReaderRemoved, kCardInserted, kCardRemoved } kind;
  std::string reader;
  Bytes atr;  // kCardInserted
};

// ReaderWatcher follows readers and cards with SCardGetStatusChange, including the
// "\\?PnP?\Notification" pseudo-reader for readers plugged in or out (pcsc-lite). The first
// Wait reports the cards already present as inserted.
class ReaderWatcher {
 public:
  // |readers| empty: every reader, as they come and go; else just those named.
  ReaderWatcher(const PcscContext& ctx, std::vector<std::string> readers)
      : ctx_(ctx), only_(std::move(readers)) {}

  // Wait returns the events since the last call, waiting up to |timeout| for one (an empty
  // list after a timeout or a Cancel).
  Result<std::vector<ReaderEvent>> Wait(std::chrono::milliseconds timeout);

 private:
  struct Known {
    std::string name;
    unsigned long state = 0;  // SCARD_STATE_* last seen
  };
  Status Refresh(std::vector<ReaderEvent>& events);

  const PcscContext& ctx_;
  std::vector<std::string> only_;
  std::vector<Known> known_;
  unsigned long pnp_state_ = 0;
  bool started_ = false;
};

}  // namespace certpress::kgs
