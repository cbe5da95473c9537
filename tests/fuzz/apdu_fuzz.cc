// apdu_fuzz.cc: the card's answers as an attacker writes them. The input is a sequence of raw
// card responses (each a 2-byte big-endian length and that many bytes, the last two being
// the status word), fed to the APDU transport (kgs/apdu.h) under the PIV commands
// personalization sends (kgs/piv.h), which parse them as BER-TLV. Nothing may read out of
// bounds, loop without end or allocate without limit, whatever the card says.
#include <cstddef>
#include <cstdint>

#include "kgs/piv.h"
#include "kgs/tlv.h"
#include "tests/support/scripted_card.h"

using namespace certpress;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0;
  testing::ScriptedCard card([&](const Bytes&) {
    if (size - pos < 2) return testing::ScriptedCard::Fault(kgs::Link::kRemoved);
    size_t n = static_cast<size_t>(data[pos]) << 8 | data[pos + 1];
    pos += 2;
    n = std::min(n, size - pos);
    Bytes answer(data + pos, data + pos + n);
    pos += n;
    return testing::ScriptedCard::Ok(std::move(answer));
  });
  kgs::Limits limits;
  limits.max_response_data = 16 * 1024;
  limits.max_get_response = 70;
  kgs::ApduChannel channel(card, limits);
  kgs::PivCard piv(channel);
  piv.Select().IgnoreError();
  (void)piv.Serial();
  (void)piv.Version();
  (void)piv.Metadata(kgs::kManagementKeyRef);
  const Bytes key(24, 0x01);
  piv.Authenticate(kgs::PivAlg::k3Des, key).IgnoreError();
  (void)piv.GenerateKey(0x9A, KeyType::kEcP256);
  (void)piv.GenerateKey(0x9C, KeyType::kRsa2048);
  (void)piv.ReadCertificate(0x5FC105);
  (void)piv.GetData(kgs::kChuidTag);
  (void)piv.Attest(0x9A);
  (void)piv.RetriesLeft(kgs::kPinRef);
  (void)piv.Sign(0x9A, KeyType::kEcP256, Bytes(32, 0x5A));
  (void)kgs::ReadAll(ByteSpan(data, size));
  (void)kgs::ChuidGuid(ByteSpan(data, size));
  return 0;
}
