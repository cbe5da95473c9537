// tlv.h: BER-TLV as PIV data objects and command payloads use it (ISO/IEC 7816-4 5.2; SP
// 800-73-4 Part 1 3.x, "data objects are BER-TLV"). The reader cannot read past its input: a
// tag or length that runs off the end, a length form over three bytes or an indefinite length
// is an error that says where, never a read beyond the buffer. Tags are one to three bytes
// (0x5FC105 is 5F C1 05).
#pragma once

#include <cstdint>
#include <optional>

#include "common/bytes.h"
#include "common/status.h"

namespace certpress::kgs {

struct Tlv {
  uint32_t tag = 0;
  ByteSpan value;
};

// TlvReader walks the TLVs of one level of |input| (it does not descend into constructed
// values; read a value with a reader of its own).
class TlvReader {
 public:
  explicit TlvReader(ByteSpan input) : in_(input) {}
  bool done() const { return pos_ >= in_.size(); }
  // Next reads the next TLV; on error the reader stays where it was.
  Result<Tlv> Next();

 private:
  ByteSpan in_;
  size_t pos_ = 0;
};

// ReadAll reads every TLV of |input|; any malformed or truncated one fails the whole read.
Result<std::vector<Tlv>> ReadAll(ByteSpan input);
// FindTlv returns the value of the first TLV tagged |tag| at the top level of |input| (which
// must be well-formed throughout), or nothing.
Result<std::optional<ByteSpan>> FindTlv(ByteSpan input, uint32_t tag);
// ExpectTlv is FindTlv for a TLV that must be there; |what| names it in the error.
Result<ByteSpan> ExpectTlv(ByteSpan input, uint32_t tag, std::string_view what);
// Unwrap reads |input| as exactly one TLV tagged |tag| (nothing after it) and returns its value.
Result<ByteSpan> Unwrap(ByteSpan input, uint32_t tag, std::string_view what);

// AppendTlv appends tag, length (definite, shortest form) and |value| to |out|.
void AppendTlv(Bytes& out, uint32_t tag, ByteSpan value);
Bytes MakeTlv(uint32_t tag, ByteSpan value);

}  // namespace certpress::kgs
