// mail_message.h: the mails themselves, built without a server or a database (unit-tested and
// fuzzed, tests/fuzz/mail_fuzz.cc): templates filled (RenderMail), header text encoded (RFC
// 2047) and the RFC 5322 message assembled (BuildMessage). Messages are multipart/alternative
// (RFC 2046 5.1.4): UTF-8 text and HTML, each base64. Header text that is not plain ASCII, or
// too long for its line, is RFC 2047 encoded-words, so that no header line exceeds 78
// characters (RFC 5322 2.1.1) and nothing a template or a name holds can start a header.
#pragma once

#include <string>
#include <string_view>

#include "cardprofiles/profile.h"
#include "common/bytes.h"
#include "common/status.h"

namespace certpress::kgs {

// RenderedMail is a mail's subject and bodies, its link already in them.
struct RenderedMail {
  std::string subject;
  SecureString text, html;
};

// EncodeHeaderText returns |text| as is when it is printable ASCII that fits its line (|used|
// + its length at most 78), else as RFC 2047 "B" encoded-words of UTF-8, split between characters
// and joined by folding whitespace
// ("\r\n "): each word at most 75 characters, each line at most 78, the first sharing its
// line with the |used| characters of the field name ("Subject: " is 9).
std::string EncodeHeaderText(std::string_view text, size_t used = 0);
// FormatMailbox renders "Name <addr>" (RFC 5322 3.4): the name quoted if it has specials,
// encoded (RFC 2047 5(3)) if it is not ASCII or would not fit the line; just "addr" without a
// name. |used| as above.
std::string FormatMailbox(std::string_view name, std::string_view address, size_t used = 0);
// SplitMailbox reads "Name <addr>" or "addr".
void SplitMailbox(std::string_view mailbox, std::string* name, std::string* address);

struct MailMessage {
  std::string from_name, from_address;
  std::string to_name, to_address;
  std::string subject;
  std::string message_id;  // without angle brackets: "local@domain"
  std::string date;        // RFC 5322 date-time
  SecureString text;       // UTF-8
  SecureString html;       // UTF-8
};
// BuildMessage renders the RFC 5322 message with CRLF line ends.
SecureString BuildMessage(const MailMessage& m);

// RenderMail fills the profile's mail templates (or the defaults of common/texts.h in the
// profile's language) with the holder's name, the
// link and its expiry; values are HTML-escaped in the HTML part.
Result<RenderedMail> RenderMail(const profiles::ActivationSpec& spec, std::string_view name,
                                std::string_view link, std::string_view expiry);

}  // namespace certpress::kgs
