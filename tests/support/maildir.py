#!/usr/bin/env python3
"""Read a Maildir with Python's email package, independently of CertPress's own MIME code.

  maildir.py DIR
  maildir.py --summary N DIR   the last N messages as "Name <address>: subject" lines

Prints one JSON object per message (a JSON array): envelope and header fields as the message
carries them (raw) and as the email package decodes them (RFC 2047 words, MIME parts), the
text of each part, and the pickup link found in the text part. Used by the mail integration
tests (tests/integration/mail_it.cc) and scripts/demo.
"""
import email
import email.policy
import email.utils
import json
import mailbox
import re
import sys

LINK = re.compile(r"https?://\S+/pickup/([A-Za-z0-9_-]+)")


def describe(key, msg):
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    to_name, to_addr = email.utils.parseaddr(str(parsed["To"]))
    from_name, from_addr = email.utils.parseaddr(str(parsed["From"]))
    raw_headers = raw.split(b"\n\n", 1)[0].decode("ascii", "replace")
    out = {
        "key": key,
        "to_name": to_name,
        "to_addr": to_addr,
        "from_name": from_name,
        "from_addr": from_addr,
        "subject": str(parsed["Subject"]),
        "message_id": str(parsed["Message-ID"]),
        "date": str(parsed["Date"]),
        "content_type": parsed.get_content_type(),
        "raw_headers": raw_headers,
        "rcpt_to": str(parsed.get("X-RcptTo", "")),
        "parts": [],
        "text": "",
        "html": "",
        "token": "",
        "html_token": "",
        "defects": [str(d) for d in parsed.defects],
    }
    for part in parsed.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        body = part.get_content()
        out["parts"].append({"type": ctype, "charset": part.get_content_charset()})
        if ctype == "text/plain":
            out["text"] = body
            m = LINK.search(body)
            out["token"] = m.group(1) if m else ""
        elif ctype == "text/html":
            out["html"] = body
            m = LINK.search(body)
            out["html_token"] = m.group(1).split('"')[0] if m else ""
    return out


def main():
    args = sys.argv[1:]
    summary = 0
    if args and args[0] == "--summary":
        summary, args = int(args[1]), args[2:]
    box = mailbox.Maildir(args[0], factory=None, create=False)
    msgs = [describe(k, m) for k, m in sorted(box.items(), key=lambda kv: kv[1].get_date())]
    if summary:
        for m in msgs[-summary:]:
            print(f"  {m['to_name']} <{m['to_addr']}>: {m['subject']}")
        print(f"  ({len(msgs)} mails in the Maildir)")
        return
    json.dump(msgs, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
