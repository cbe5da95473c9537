// apdu.h: the one APDU transport of the Key Generation System (ISO/IEC 7816-4 section 5).
//
// CardTransport is a raw exchange with one card (PC/SC in kgs/pcsc.h, a scripted card in the
// unit tests, a fuzz target's bytes); ApduChannel above it does everything a PIV command
// needs of the link, in one place and whatever the transport:
//   - short (Lc <= 255, Le <= 256) and extended length (Lc <= 65535, Le <= 65536) commands;
//   - command chaining (CLA bit 0x10 on every part but the last, ISO 7816-4 5.3.3), for data
//     longer than a short command carries;
//   - the 61xx GET RESPONSE loop (ISO 7816-4 5.3.4: xx more bytes are waiting) and the 6Cxx
//     retry with the exact Le the card names (5.1.3 "wrong Le field; SW2 encodes the exact
//     number of available data bytes");
//   - a bound on every loop and every length (Limits), and a deadline per command;
//   - a reset card reconnected, reselected and checked to be the same card (the recovery hook)
//     before the command is repeated once; a removed card reported as such.
// The status word is data (Response::sw), never a transport error; StatusWordError maps it to
// an error through one table (kStatusWords), as OpenSC's iso7816_errors[] does.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::kgs {

// What happened to the link in one exchange (besides the bytes).
enum class Link {
  kOk,
  kRemoved,  // the card left the reader (SCARD_W_REMOVED_CARD, SCARD_E_NO_SMARTCARD)
  kReset,    // the card was reset by someone else (SCARD_W_RESET_CARD): security state lost
  kTimeout,  // no answer in time
  kError,    // any other transport failure (the detail says which)
};

struct RawResponse {
  Link link = Link::kOk;
  Bytes bytes;         // data || SW1 SW2 when link == kOk
  std::string detail;  // the PC/SC code name and text otherwise
};

// CardTransport exchanges raw APDUs with one card. Not thread-safe: one card, one thread.
class CardTransport {
 public:
  virtual ~CardTransport() = default;
  // Transmit sends one command APDU and returns the card's raw answer.
  virtual RawResponse Transmit(ByteSpan command) = 0;
  // Reconnect re-establishes the link after a reset (SCardReconnect with a warm reset); the
  // card's security state is gone afterwards. Returns the ATR.
  virtual Result<Bytes> Reconnect() = 0;
  // ExtendedLength reports whether the reader and card take extended-length APDUs.
  virtual bool ExtendedLength() const { return false; }
};

// A command APDU. |le| is the number of bytes expected: nothing (no Le field), or 1..65536
// (256 in a short command and 65536 in an extended one are encoded as 00 / 0000).
struct Command {
  uint8_t cla = 0x00;
  uint8_t ins = 0;
  uint8_t p1 = 0;
  uint8_t p2 = 0;
  Bytes data;
  std::optional<uint32_t> le;
  // The data is a secret (a PIN, a key): every copy the channel makes is wiped after use.
  bool secret = false;
};

// Wipe overwrites |b| (OPENSSL_cleanse) and empties it.
void Wipe(Bytes& b);

// A response APDU: the data field and the status word, apart.
struct Response {
  Bytes data;
  uint16_t sw = 0;
  bool ok() const { return sw == 0x9000; }
};

// Limits bounds every loop and length of an exchange; a card that exceeds one is an error,
// never a hang or an unbounded allocation.
struct Limits {
  size_t max_command_data = 16 * 1024;   // what one (chained) command may carry
  size_t max_response_data = 64 * 1024;  // what one response may assemble to
  int max_get_response = 300;            // 61xx rounds per command (64 KiB / 256 + slack)
  int max_wrong_le_retries = 2;          // 6Cxx rounds per command part
  int max_reset_recoveries = 1;          // reconnect + reselect, then the command once more
  std::chrono::milliseconds command_timeout{30000};  // per command, all parts and rounds
};

// StatusWordError maps a status word that is not 9000 to an error whose message names |what|
// and the word ("GENERAL AUTHENTICATE: 6982 security status not satisfied"). 63Cx (wrong PIN,
// x tries left) is a LoginRefused; 6A82/6A88/6A80 on reads are NotFound; the rest are card
// errors. An OK status word gives Ok().
Status StatusWordError(uint16_t sw, std::string_view what);
// StatusWordText is the table's text for |sw| ("security status not satisfied").
std::string StatusWordText(uint16_t sw);

// EncodeCommand renders |cmd| as one APDU (ISO 7816-4 5.1): short if Lc <= 255 and Le <= 256
// and |extended| is false, else extended. Fails for data over 65535 bytes or Le over 65536.
Result<Bytes> EncodeCommand(const Command& cmd, bool extended);

// ApduChannel runs commands over a transport (see the top of this file). It counts the APDUs
// it sends (for the bench's APDUs per card).
class ApduChannel {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit ApduChannel(CardTransport& transport, Limits limits = {}, Clock clock = nullptr);

  // Send runs |cmd| (chained if its data is longer than one short command carries and the
  // link is short-only) and assembles the whole response through 61xx and 6Cxx. A status
  // word is never an error here; a dead link, a limit exceeded, a timeout or a malformed
  // response is.
  Result<Response> Send(const Command& cmd);
  // Expect runs |cmd| and turns any status word other than 9000 into StatusWordError(|what|).
  Result<Bytes> Expect(const Command& cmd, std::string_view what);

  // SetRecovery installs what runs after a reset and a successful reconnect: reselect the
  // application and check that the card is the same one (and restore what it needs, such
  // as an authenticated management key). An error from it ends the command.
  void SetRecovery(std::function<Status(const Bytes& atr)> recover) {
    recover_ = std::move(recover);
  }

  // Removed reports whether the card was found gone: the caller's work on it is over.
  bool removed() const { return removed_; }
  int64_t apdus() const { return apdus_; }
  const Limits& limits() const { return limits_; }

 private:
  // Exchange sends one encoded APDU and splits its answer. Resets are recovered here.
  Result<Response> Exchange(ByteSpan apdu, std::chrono::steady_clock::time_point deadline);
  // SendOne sends one command part and runs the 6Cxx and 61xx loops for it.
  Result<Response> SendOne(const Command& part, std::chrono::steady_clock::time_point deadline);

  CardTransport& transport_;
  Limits limits_;
  Clock clock_;
  std::function<Status(const Bytes&)> recover_;
  bool removed_ = false;
  bool reset_seen_ = false;  // the last exchange found the card reset
  bool recovering_ = false;  // inside the recovery hook: a second reset is not recovered
  int64_t apdus_ = 0;
};

}  // namespace certpress::kgs
