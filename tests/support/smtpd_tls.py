#!/usr/bin/python3
"""An SMTP server that demands TLS and AUTH, for MailIT: python3-aiosmtpd (Debian's) writing a
Maildir, as scripts/stack's development server does, but with the settings of a real relay.

    smtpd_tls.py PORT starttls|implicit CERT KEY MAILDIR USER PASSWORD LOG

starttls: plain TCP, STARTTLS required before MAIL (530 otherwise), AUTH required and offered
only over TLS (RFC 3207, RFC 4954). implicit: TLS from the first byte (RFC 8314 "submissions").
Every AUTH attempt is logged to LOG as "auth ok USER" or "auth refused USER", with whether the
session was encrypted.
"""

import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, mode, cert, key, maildir, user, password, log = sys.argv[1:9]
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        who = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        with open(log, "a") as f:
            f.write("auth %s %s %s %s tls=%s\n" % ("ok" if ok else "refused", who, mechanism,
                                                   mode, session.ssl is not None))
        # handled=False: aiosmtpd then answers 535 itself (with the default, True, it says
        # nothing and the client waits).
        return AuthResult(success=ok, handled=False)

    common = dict(authenticator=authenticator, auth_required=True)
    if mode == "starttls":
        c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), tls_context=ctx,
                       require_starttls=True, auth_require_tls=True, **common)
    else:
        # The listening socket speaks only TLS. aiosmtpd 1.4 counts only STARTTLS as TLS for
        # auth_require_tls (it would never offer AUTH here), so that check is off: the
        # transport already is TLS, and session.ssl stays None (logged as "tls=False").
        c = Controller(Mailbox(maildir), hostname="127.0.0.1", port=int(port), ssl_context=ctx,
                       auth_require_tls=False, **common)
    c.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
