// scripted_card.h: a CardTransport for unit tests and fuzz targets: each command APDU goes to
// a handler (a script of canned answers, or a small card model), and every command is kept
// for the test to look at. Test-only; never linked into certpress.
#pragma once

#include <deque>
#include <functional>
#include <vector>

#include "kgs/apdu.h"

namespace certpress::testing {

class ScriptedCard final : public kgs::CardTransport {
 public:
  using Handler = std::function<kgs::RawResponse(const Bytes& command)>;

  explicit ScriptedCard(Handler handler) : handler_(std::move(handler)) {}
  // A card that gives the answers of |script| in order (then 6F00 for anything more).
  explicit ScriptedCard(std::deque<kgs::RawResponse> script)
      : handler_([this](const Bytes&) {
          if (script_.empty()) return Ok({0x6F, 0x00});
          kgs::RawResponse r = std::move(script_.front());
          script_.pop_front();
          return r;
        }),
        script_(std::move(script)) {}

  kgs::RawResponse Transmit(ByteSpan command) override {
    sent.emplace_back(command.begin(), command.end());
    return handler_(sent.back());
  }
  Result<Bytes> Reconnect() override {
    ++reconnects;
    return Bytes{0x3B, 0x00};
  }
  bool ExtendedLength() const override { return extended; }

  static kgs::RawResponse Ok(Bytes bytes) { return {kgs::Link::kOk, std::move(bytes), ""}; }
  static kgs::RawResponse Data(Bytes data, uint16_t sw = 0x9000) {
    data.push_back(static_cast<uint8_t>(sw >> 8));
    data.push_back(static_cast<uint8_t>(sw));
    return Ok(std::move(data));
  }
  static kgs::RawResponse Fault(kgs::Link link) { return {link, {}, "scripted fault"}; }

  std::vector<Bytes> sent;
  int reconnects = 0;
  bool extended = false;

 private:
  Handler handler_;
  std::deque<kgs::RawResponse> script_;
};

}  // namespace certpress::testing
