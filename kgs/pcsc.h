// pcsc.h: PC/SC (pcsc-lite) behind move-only RAII types: a context, a connected card (which
// is a CardTransport, kgs/apdu.h), a transaction, and a watcher of readers and cards. This
// file and pcsc.cc are the only ones that include winscard.h (scripts/check-layers); nothing
// above kgs/ sees a SCARDHANDLE. PC/SC return codes stay in messages by name
// ("SCardConnect: SCARD_E_NO_SMARTCARD (No smart card inserted.)").
#pragma once

#include <chrono>
#include <cstdint>
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
