#include "kgs/apdu.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>

namespace certpress::kgs {

namespace {

struct StatusWordRow {
  uint16_t sw;
  uint16_t mask;  // bits of |sw| that must match (0xFFF0 for 63Cx, ...)
  ErrorKind kind;
  const char* text;
};

// kStatusWords: the status words of ISO/IEC 7816-4 5.1.3 and SP 800-73-4 Part 2 (the
// "Status words" tables of each command) that PIV cards return, with what they mean here.
// The first matching row wins.
constexpr StatusWordRow kStatusWords[] = {
    {0x9000, 0xFFFF, ErrorKind::kOk, "success"},
    {0x63C0, 0xFFF0, ErrorKind::kLoginRefused, "verification failed"},
    {0x6300, 0xFFFF, ErrorKind::kLoginRefused, "verification failed"},
    {0x6581, 0xFFFF, ErrorKind::kCard, "memory failure"},
    {0x6700, 0xFFFF, ErrorKind::kCard, "wrong length"},
    {0x6882, 0xFFFF, ErrorKind::kCard, "secure messaging not supported"},
    {0x6883, 0xFFFF, ErrorKind::kCard, "last command of the chain expected"},
    {0x6884, 0xFFFF, ErrorKind::kCard, "command chaining not supported"},
    {0x6982, 0xFFFF, ErrorKind::kCard, "security status not satisfied"},
    {0x6983, 0xFFFF, ErrorKind::kLoginRefused, "authentication method blocked"},
    {0x6984, 0xFFFF, ErrorKind::kCard, "reference data not usable"},
    {0x6985, 0xFFFF, ErrorKind::kCard, "conditions of use not satisfied"},
    {0x6A80, 0xFFFF, ErrorKind::kCard, "incorrect parameter in the data field"},
    {0x6A81, 0xFFFF, ErrorKind::kCard, "function not supported"},
    {0x6A82, 0xFFFF, ErrorKind::kNotFound, "data object or application not found"},
    {0x6A84, 0xFFFF, ErrorKind::kCard, "not enough memory"},
    {0x6A86, 0xFFFF, ErrorKind::kCard, "incorrect parameters P1-P2"},
    {0x6A88, 0xFFFF, ErrorKind::kNotFound, "referenced data not found"},
    {0x6B00, 0xFFFF, ErrorKind::kCard, "wrong parameters P1-P2"},
    {0x6C00, 0xFF00, ErrorKind::kCard, "wrong Le"},
    {0x6D00, 0xFFFF, ErrorKind::kCard, "instruction not supported"},
    {0x6E00, 0xFFFF, ErrorKind::kCard, "class not supported"},
    {0x6F00, 0xFFFF, ErrorKind::kCard, "no precise diagnosis"},
    {0x6100, 0xFF00, ErrorKind::kCard, "more data available"},
};

const StatusWordRow* FindRow(uint16_t sw) {
  for (const auto& row : kStatusWords) {
    if ((sw & row.mask) == row.sw) return &row;
  }
  return nullptr;
}

std::string Hex4(uint16_t sw) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04X", sw);
  return buf;
}

// InsName names the instructions a PIV card gets (SP 800-73-4 Part 2 Table 4, ISO 7816-4, and
// Yubico's extensions), for messages about a command that got no answer.
std::string InsName(uint8_t ins) {
  struct Row {
    uint8_t ins;
    const char* name;
  };
  static constexpr Row kNames[] = {
      {0xA4, "SELECT"},
      {0xCB, "GET DATA"},
      {0xDB, "PUT DATA"},
      {0x20, "VERIFY"},
      {0x24, "CHANGE REFERENCE DATA"},
      {0x2C, "RESET RETRY COUNTER"},
      {0x87, "GENERAL AUTHENTICATE"},
      {0x47, "GENERATE ASYMMETRIC KEY PAIR"},
      {0xC0, "GET RESPONSE"},
      {0xF7, "GET METADATA"},
      {0xF8, "GET SERIAL"},
      {0xF9, "ATTEST"},
      {0xFA, "SET PIN RETRIES"},
      {0xFB, "RESET"},
      {0xFD, "GET VERSION"},
      {0xFE, "IMPORT KEY"},
      {0xFF, "SET MANAGEMENT KEY"},
  };
  char hex[8];
  std::snprintf(hex, sizeof hex, "INS %02X", ins);
  for (const Row& r : kNames) {
    if (r.ins == ins) return std::string(r.name) + " (" + hex + ")";
  }
  return hex;
}

bool NeedsExtended(const Command& c) {
  return c.data.size() > 255 || (c.le && *c.le > 256);
}

}  // namespace

void Wipe(Bytes& b) {
  if (!b.empty()) OPENSSL_cleanse(b.data(), b.size());
  b.clear();
}

std::string StatusWordText(uint16_t sw) {
  const StatusWordRow* row = FindRow(sw);
  if (row == nullptr) return "unknown status word";
  std::string text = row->text;
  if ((sw & 0xFFF0) == 0x63C0) text += ", " + std::to_string(sw & 0x0F) + " tries left";
  return text;
}

Status StatusWordError(uint16_t sw, std::string_view what) {
  const StatusWordRow* row = FindRow(sw);
  if (row != nullptr && row->kind == ErrorKind::kOk) return Status::Ok();
  const ErrorKind kind = row != nullptr ? row->kind : ErrorKind::kCard;
  return Status(kind, std::string(what) + ": " + Hex4(sw) + " " + StatusWordText(sw));
}

Result<Bytes> EncodeCommand(const Command& c, bool extended) {
  if (c.data.size() > 65535) {
    return InvalidInput("command data of " + std::to_string(c.data.size()) +
                        " bytes: more than an APDU carries (65535)");
  }
  if (c.le && (*c.le == 0 || *c.le > 65536)) {
    return InvalidInput("Le of " + std::to_string(*c.le) + ": must be 1 to 65536");
  }
  extended = extended || NeedsExtended(c);
  Bytes out = {c.cla, c.ins, c.p1, c.p2};
  if (!extended) {
    // Short: [Lc data] [Le], Le 256 encoded as 00 (ISO 7816-4 5.1, cases 1-4 short).
    if (!c.data.empty()) {
      out.push_back(static_cast<uint8_t>(c.data.size()));
      out.insert(out.end(), c.data.begin(), c.data.end());
    }
    if (c.le) out.push_back(static_cast<uint8_t>(*c.le == 256 ? 0 : *c.le));
    return out;
  }
  // Extended: 00 Lc1 Lc2 data [Le1 Le2], or 00 Le1 Le2 without data; Le 65536 is 0000.
  out.push_back(0x00);
  if (!c.data.empty()) {
    out.push_back(static_cast<uint8_t>(c.data.size() >> 8));
    out.push_back(static_cast<uint8_t>(c.data.size()));
    out.insert(out.end(), c.data.begin(), c.data.end());
  }
  if (c.le) {
    const uint32_t le = *c.le == 65536 ? 0 : *c.le;
    out.push_back(static_cast<uint8_t>(le >> 8));
    out.push_back(static_cast<uint8_t>(le));
  }
  if (c.data.empty() && !c.le) out.pop_back();  // case 1: no body at all
  return out;
}

ApduChannel::ApduChannel(CardTransport& transport, Limits limits, Clock clock)
    : transport_(transport), limits_(limits), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
}

Result<Response> ApduChannel::Exchange(ByteSpan apdu,
                                       std::chrono::steady_clock::time_point deadline) {
  if (removed_) return CardError("card removed");
  if (clock_() > deadline) {
    return Unavailable("card did not finish the command within " +
                       std::to_string(limits_.command_timeout.count()) + " ms");
  }
  ++apdus_;
  RawResponse raw = transport_.Transmit(apdu);
  switch (raw.link) {
    case Link::kOk:
      break;
    case Link::kRemoved:
      removed_ = true;
      return CardError("card removed" + (raw.detail.empty() ? "" : " (" + raw.detail + ")"));
    case Link::kReset:
      reset_seen_ = true;
      return CardError("card reset" + (raw.detail.empty() ? "" : " (" + raw.detail + ")"));
    case Link::kTimeout:
      // The command is named: the operator must know where a card hung (after SELECT it is
      // likely the card; in GENERATE, a card slower than the timeout allows).
      return Unavailable("card did not answer " + InsName(apdu.size() > 1 ? apdu[1] : 0) +
                         (raw.detail.empty() ? "" : ": " + raw.detail));
    case Link::kError:
      return CardError("card link: " + raw.detail);
  }
  if (raw.bytes.size() < 2) {
    return CardError("card answered " + std::to_string(raw.bytes.size()) +
                     " bytes: no status word");
  }
  if (raw.bytes.size() - 2 > limits_.max_response_data) {
    return CardError("card answered " + std::to_string(raw.bytes.size() - 2) +
                     " bytes, more than the limit of " + std::to_string(limits_.max_response_data));
  }
  Response r;
  r.sw = static_cast<uint16_t>(raw.bytes[raw.bytes.size() - 2] << 8 | raw.bytes.back());
  r.data.assign(raw.bytes.begin(), raw.bytes.end() - 2);
  if (clock_() > deadline) {
    return Unavailable("card did not finish the command within " +
                       std::to_string(limits_.command_timeout.count()) + " ms");
  }
  return r;
}

Result<Response> ApduChannel::SendOne(const Command& part,
                                      std::chrono::steady_clock::time_point deadline) {
  Command c = part;
  const bool extended = transport_.ExtendedLength() && NeedsExtended(c);
  if (!extended && c.le && *c.le > 256) c.le = 256;  // the rest comes through 61xx
  Bytes apdu;
  // A secret's copies (the command and every encoding of it) are wiped however this returns.
  struct WipeOnExit {
    bool on;
    Bytes& a;
    Bytes& b;
    ~WipeOnExit() {
      if (on) {
        Wipe(a);
        Wipe(b);
      }
    }
  } wipe{c.secret, apdu, c.data};
  CP_ASSIGN_OR_RETURN(apdu, EncodeCommand(c, extended));
  CP_ASSIGN_OR_RETURN(Response r, Exchange(apdu, deadline));
  // 6Cxx: wrong Le; xx is the exact length available (00: 256). Repeat with it.
  for (int n = 0; (r.sw & 0xFF00) == 0x6C00; ++n) {
    if (n >= limits_.max_wrong_le_retries) {
      return CardError("card kept answering 6Cxx (wrong Le) after " + std::to_string(n) +
                       " retries");
    }
    c.le = (r.sw & 0xFF) == 0 ? 256 : (r.sw & 0xFF);
    if (c.secret) Wipe(apdu);
    CP_ASSIGN_OR_RETURN(apdu, EncodeCommand(c, false));
    CP_ASSIGN_OR_RETURN(r, Exchange(apdu, deadline));
  }
  // 61xx: xx more bytes (00: 256 or more) wait for GET RESPONSE (ISO 7816-4 7.6.1).
  Response out;
  out.data = std::move(r.data);
  for (int n = 0; (r.sw & 0xFF00) == 0x6100; ++n) {
    if (n >= limits_.max_get_response) {
      return CardError("card kept answering 61xx after " + std::to_string(n) +
                       " GET RESPONSE rounds");
    }
    Command get;
    get.cla = static_cast<uint8_t>(part.cla & 0x03);  // the logical channel, no chaining bit
    get.ins = 0xC0;
    get.le = (r.sw & 0xFF) == 0 ? 256 : (r.sw & 0xFF);
    if (c.secret) Wipe(apdu);
    CP_ASSIGN_OR_RETURN(apdu, EncodeCommand(get, false));
    CP_ASSIGN_OR_RETURN(r, Exchange(apdu, deadline));
    if (out.data.size() + r.data.size() > limits_.max_response_data) {
      return CardError("card's response grew past the limit of " +
                       std::to_string(limits_.max_response_data) + " bytes");
    }
    out.data.insert(out.data.end(), r.data.begin(), r.data.end());
  }
  out.sw = r.sw;
  return out;
}

Result<Response> ApduChannel::Send(const Command& cmd) {
  if (cmd.data.size() > limits_.max_command_data) {
    return InvalidInput("command data of " + std::to_string(cmd.data.size()) +
                        " bytes, more than the limit of " +
                        std::to_string(limits_.max_command_data));
  }
  if ((cmd.cla & 0x10) != 0) return InvalidInput("the caller set the chaining bit");
  for (int recoveries = 0;; ++recoveries) {
    reset_seen_ = false;
    const auto deadline = clock_() + limits_.command_timeout;
    Result<Response> r = [&]() -> Result<Response> {
      const size_t max_part = transport_.ExtendedLength() ? 65535 : 255;
      if (cmd.data.size() <= max_part) return SendOne(cmd, deadline);
      // Command chaining (ISO 7816-4 5.3.3): every part but the last with CLA bit 0x10 and no
      // Le; a part answered with anything but 9000 ends the chain with that answer.
      size_t off = 0;
      while (true) {
        const size_t n = std::min(max_part, cmd.data.size() - off);
        const bool last = off + n == cmd.data.size();
        Command part;
        part.cla = cmd.cla;
        part.ins = cmd.ins;
        part.p1 = cmd.p1;
        part.p2 = cmd.p2;
        part.le = cmd.le;
        part.secret = cmd.secret;
        part.data.assign(cmd.data.begin() + off, cmd.data.begin() + off + n);
        if (!last) {
          part.cla |= 0x10;
          part.le.reset();
        }
        Result<Response> sent = SendOne(part, deadline);
        if (part.secret) Wipe(part.data);
        CP_ASSIGN_OR_RETURN(Response pr, std::move(sent));
        if (last || !pr.ok()) return pr;
        off += n;
      }
    }();
    if (r.ok() || !reset_seen_) return r;
    // The card was reset under us (another application, a reader glitch): its security state
    // is gone. Reconnect, let the owner reselect and check that it is the same card, then run
    // the whole command again (a chain cannot be resumed half-way).
    if (recoveries >= limits_.max_reset_recoveries || !recover_ || recovering_) {
      return r.status().Wrap("after " + std::to_string(recoveries) + " recoveries");
    }
    CP_ASSIGN_OR_RETURN(Bytes atr, transport_.Reconnect());
    recovering_ = true;
    Status st = recover_(atr);
    recovering_ = false;
    if (!st.ok()) return st.Wrap("recovering from a card reset");
  }
}

Result<Bytes> ApduChannel::Expect(const Command& cmd, std::string_view what) {
  CP_ASSIGN_OR_RETURN(Response r, Send(cmd));
  CP_RETURN_IF_ERROR(StatusWordError(r.sw, what));
  return std::move(r.data);
}

}  // namespace certpress::kgs
