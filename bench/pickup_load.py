#!/usr/bin/env python3
"""Pickup load for scripts/bench: each client opens a pickup page (the CSRF cookie and form
value), posts a password and reads the PKCS#12, one link after another, C clients at once.

  pickup_load.py URL MAILDIR CONCURRENCY N

Links come from the activation mails in MAILDIR (each used once: the first N not yet used).
Prints one JSON object: pickups, seconds, pickups_per_s, p50_ms, p99_ms (of the POST, which
builds the PKCS#12), failures. Every response is checked: 200, application/x-pkcs12.
"""
import email
import email.policy
import http.client
import json
import mailbox
import re
import ssl
import sys
import threading
import time
import urllib.parse

LINK = re.compile(r"https?://\S+?/pickup/([A-Za-z0-9_-]{43})")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def tokens(maildir):
    out = []
    for _, msg in mailbox.Maildir(maildir, create=False).items():
        parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain",))
        m = LINK.search(body.get_content() if body else "")
        if m:
            out.append(m.group(1))
    return out


def main():
    url, maildir, conc, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    used_file = maildir.rstrip("/") + ".used"
    try:
        used = set(open(used_file).read().split())
    except FileNotFoundError:
        used = set()
    links = [t for t in tokens(maildir) if t not in used][:n]
    if len(links) < n:
        sys.exit("only %d unused links in %s" % (len(links), maildir))
    with open(used_file, "a") as f:
        f.write("\n".join(links) + "\n")
    host = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # CertPress's own web CA; TLS is checked by WebIT
    lock = threading.Lock()
    latencies, failures = [], []
    queue = list(links)

    def client():
        conn = http.client.HTTPSConnection(host.hostname, host.port, context=ctx, timeout=600)
        while True:
            with lock:
                if not queue:
                    break
                token = queue.pop()
            path = "/pickup/" + token
            conn.request("GET", path)
            r = conn.getresponse()
            page = r.read().decode()
            cookie = r.getheader("Set-Cookie", "").split(";")[0]
            m = CSRF.search(page)
            if r.status != 200 or not m:
                failures.append("GET %d" % r.status)
                continue
            body = urllib.parse.urlencode({"csrf": m.group(1), "password": "bench password 1",
                                           "password2": "bench password 1"})
            start = time.monotonic()
            conn.request("POST", path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
            r = conn.getresponse()
            data = r.read()
            took = time.monotonic() - start
            if r.status != 200 or r.getheader("Content-Type") != "application/x-pkcs12" or not data:
                failures.append("POST %d" % r.status)
                continue
            with lock:
                latencies.append(took)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(conc)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    latencies.sort()

    def pct(p):
        return 1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

    print(json.dumps({"concurrency": conc, "pickups": len(latencies), "seconds": round(seconds, 3),
                      "pickups_per_s": round(len(latencies) / seconds, 2),
                      "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1),
                      "failures": len(failures)}))


if __name__ == "__main__":
    main()
