#!/usr/bin/python3
"""vpiv: a virtual PIV card for vsmartcard's vpcd reader driver inside a real pcscd.

    vpiv.py --port P --state FILE [--host H] [--ca-dir DIR] [--version X.Y.Z] [--serial N]
            [--timing none|real|NAME=MS,...] [--fault NAME[=VALUE]]... [--control SOCKET]
            [--removed] [--no-nodelay] [--verbose]

The card connects to vpcd's port (vpcd listens, the card is the client): connecting is inserting
the card, closing the connection is pulling it out. vpcd's protocol (vsmartcard's vpcd.c): every
message is a 2-byte big-endian length and the payload; a 1-byte payload is a control message
(0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR, answered with the framed ATR);
anything else is an APDU answered with the framed response APDU.

--control SOCKET opens a unix socket taking one line per connection (tools/vpiv/vpivctl.py):
  status | insert | remove | fault NAME[=VALUE]... | fault-clear [NAME]... | timing SPEC |
  factory-reset [VERSION] | quit
Faults (also --fault): see piv_card.FAULTS or `vpiv.py --help-faults`.
docs/VIRTUAL_CARD.md describes the tool. Never part of CertPress; never for production.
"""

import argparse
import json
import os
import select
import socket
import struct
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import piv_card  # noqa: E402

VPCD_OFF, VPCD_ON, VPCD_RESET, VPCD_ATR = 0, 1, 2, 4
SECRET_INS = {0x20, 0x24, 0x2C}  # VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER


class Removed(Exception):
    """The card is pulled out while it works on a command."""


class Server:
    def __init__(self, card, host, port, nodelay=True, verbose=False):
        self.card = card
        self.host, self.port = host, port
        self.nodelay = nodelay
        self.verbose = verbose
        self.want_inserted = True
        self.connected = False
        self.powered = False  # pcscd has read the ATR since the card went in: it sees the card
        self.quit = False
        self.reinsert_at = None
        self.apdus = 0
        self.cond = threading.Condition()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        card.sleep = self.sleep

    def log(self, msg):
        sys.stderr.write(
            "%s vpiv[%s:%d]: %s\n" % (time.strftime("%H:%M:%S"), self.card.st["serial"], self.port, msg)
        )
        sys.stderr.flush()

    # -- state shared with the control thread --

    def wake(self):
        os.write(self.wake_w, b"x")

    def _drain(self):
        try:
            while os.read(self.wake_r, 64):
                pass
        except BlockingIOError:
            pass

    def _set_connected(self, value):
        with self.cond:
            self.connected = value
            self.powered = False
            self.cond.notify_all()

    def _set_powered(self):
        with self.cond:
            self.powered = True
            self.cond.notify_all()

    def sleep(self, seconds):
        """A wait the control thread can cut short by pulling the card out."""
        deadline = time.monotonic() + seconds
        while True:
            if not self.want_inserted or self.quit:
                raise Removed()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.wake_r], [], [], left)
            if r:
                self._drain()

    # -- main loop --

    def run(self):
        while not self.quit:
            if not self.want_inserted:
                timeout = None
                if self.reinsert_at is not None:
                    timeout = max(0, self.reinsert_at - time.monotonic())
                r, _, _ = select.select([self.wake_r], [], [], timeout)
                if r:
                    self._drain()
                if self.reinsert_at is not None and time.monotonic() >= self.reinsert_at:
                    self.reinsert_at = None
                    self.want_inserted = True
                continue
            try:
                conn = socket.create_connection((self.host, self.port), timeout=2)
            except OSError:
                # vpcd not listening (pcscd starting or stopped): try again shortly.
                try:
                    self.sleep(0.2)
                except Removed:
                    pass
                continue
            conn.settimeout(None)
            if self.nodelay:
                # vpcd writes the length and the payload separately; with Nagle and delayed ACKs
                # each exchange stalls ~40 ms (docs/VIRTUAL_CARD.md).
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.card.power_reset()
            self._set_connected(True)
            self.log("inserted")
            try:
                self.serve(conn)
            except Removed:
                self.log("pulled out")
            except OSError as e:
                self.log(f"connection lost: {e}")
            finally:
                conn.close()
                self._set_connected(False)

    def _recv_exact(self, conn, n):
        buf = b""
        while len(buf) < n:
            r, _, _ = select.select([conn, self.wake_r], [], [])
            if self.wake_r in r:
                self._drain()
                if not self.want_inserted or self.quit:
                    raise Removed()
            if conn not in r:
                continue
            chunk = conn.recv(n - len(buf))
            if self.nodelay:
                # Linux clears TCP_QUICKACK by itself; re-arm it after every read (tcp(7)).
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            if not chunk:
                return None
            buf += chunk
        return buf

    def serve(self, conn):
        while True:
            head = self._recv_exact(conn, 2)
            if head is None:
                self.log("vpcd closed the connection")
                return
            (n,) = struct.unpack(">H", head)
            msg = self._recv_exact(conn, n) if n else b""
            if msg is None:
                return
            if n == 1:
                self._control(conn, msg[0])
                continue
            self._apdu(conn, msg)

    def _send(self, conn, payload):
        conn.sendall(struct.pack(">H", len(payload)) + payload)

    def _control(self, conn, code):
        if code in (VPCD_OFF, VPCD_ON, VPCD_RESET):
            self.card.power_reset()
        elif code == VPCD_ATR:
            self._send(conn, self.card.atr())
            self._set_powered()

    def _apdu(self, conn, apdu):
        self.apdus += 1
        faults = self.card.faults
        started = time.monotonic()
        if self.verbose:
            shown = apdu[:5].hex() + ("…" if apdu[1] in SECRET_INS else apdu[5:].hex())
            self.log("> " + shown)
        if "mute-on" in faults and apdu[1] == int(faults["mute-on"], 16):
            faults.pop("mute-on")
            faults["mute"] = "1"  # hung from here on, as a card that crashed mid-command
        if "mute" in faults:
            self.log("fault mute: no answer")
            return
        drop = False
        if "drop-on" in faults and apdu[1] == int(faults["drop-on"], 16):
            drop = True
        if "drop-after" in faults:
            left = int(float(faults["drop-after"])) - 1
            faults["drop-after"] = str(left)
            drop = drop or left <= 0
        if drop:
            faults.pop("drop-on", None)
            faults.pop("drop-after", None)
            self.log("fault drop: card pulled out during INS %02X" % apdu[1])
            try:
                self.sleep(float(faults.get("drop-delay", 0)) / 1000)
            except Removed:
                pass
            if "reinsert-after" in faults:
                self.reinsert_at = time.monotonic() + float(faults["reinsert-after"]) / 1000
            self.want_inserted = False
            raise Removed()
        self.card.last_put = None
        try:
            data, sw = self.card.process(apdu)
        except Removed:
            raise
        except Exception:  # a bug of the card must not take the reader down: 6F00, as a card
            self.log("internal error on INS %02X:\n%s" % (apdu[1], traceback.format_exc()))
            data, sw = b"", 0x6F00
        extra = float(faults.get("slow", 0))
        total = self.card.timing.get("apdu", 0) + extra
        if total:
            self.sleep(max(0, total / 1000 - (time.monotonic() - started)))
        if not self.want_inserted:
            raise Removed()
        if self.verbose:
            self.log("< %s %04X" % (data.hex(), sw))
        self._send(conn, data + struct.pack(">H", sw))
        if (
            "drop-after-cert" in faults
            and sw == 0x9000
            and self.card.last_put in piv_card.CERT_OBJECTS
        ):
            # Answered, so the host knows the certificate is on the card; then pulled out.
            faults.pop("drop-after-cert")
            self.log("fault drop-after-cert: pulled out after writing %06X" % self.card.last_put)
            self.want_inserted = False
            raise Removed()

    # -- control socket --

    def control_loop(self, path):
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        os.chmod(path, 0o600)
        srv.listen(8)
        while not self.quit:
            c, _ = srv.accept()
            with c:
                try:
                    line = c.makefile("r").readline().strip()
                    reply = self.control(line)
                except Exception as e:  # a bad command must not kill the card
                    reply = {"ok": False, "error": str(e)}
                c.sendall((json.dumps(reply) + "\n").encode())

    def _wait(self, attr, value, seconds):
        deadline = time.monotonic() + seconds
        with self.cond:
            while getattr(self, attr) != value and time.monotonic() < deadline:
                self.cond.wait(deadline - time.monotonic())
            return getattr(self, attr) == value

    def control(self, line):
        words = line.split()
        if not words:
            return {"ok": False, "error": "empty command"}
        cmd, args = words[0], words[1:]
        card = self.card
        if cmd == "status":
            return {
                "ok": True,
                "serial": card.st["serial"],
                "version": card.st["version"],
                "port": self.port,
                "inserted": self.want_inserted,
                "connected": self.connected,
                "powered": self.powered,
                "faults": card.faults,
                "timing": card.timing,
                "apdus": self.apdus,
                "pin_retries": card.st["pin"]["left"],
                "puk_retries": card.st["puk"]["left"],
            }
        if cmd == "insert":
            self.reinsert_at = None
            self.want_inserted = True
            self.wake()
            # Done when pcscd has read the ATR, so a client connecting next finds the card.
            ok = self._wait("powered", True, 15)
            reply = {"ok": ok, "connected": self.connected}
            return reply if ok else reply | {"error": "pcscd did not power the card within 15 s"}
        if cmd == "remove":
            self.reinsert_at = None
            self.want_inserted = False
            self.wake()
            ok = self._wait("connected", False, 30)
            return {"ok": ok, "connected": self.connected}
        if cmd == "fault":
            for spec in args:
                name, value = piv_card.parse_fault(spec)
                card.faults[name] = value
            return {"ok": True, "faults": card.faults}
        if cmd == "fault-clear":
            for name in args or list(card.faults):
                card.faults.pop(name, None)
            return {"ok": True, "faults": card.faults}
        if cmd == "timing":
            card.timing = piv_card.parse_timing(",".join(args))
            return {"ok": True, "timing": card.timing}
        if cmd == "factory-reset":
            card.factory_reset(args[0] if args else None)
            return {"ok": True, "serial": card.st["serial"], "version": card.st["version"]}
        if cmd == "quit":
            self.quit = True
            self.wake()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command '{cmd}'"}


def main():
    p = argparse.ArgumentParser(description="A virtual PIV card for vpcd (development and tests).")
    p.add_argument("--port", type=int, required=False, help="vpcd reader port (default 35963)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--state", help="JSON file with the card's state (created if missing)")
    p.add_argument("--ca-dir", help="attestation root CA directory (default: next to --state)")
    p.add_argument("--version", default="5.4.3", help="firmware version for a new card; "
                   ">= 5.7.0 makes the factory management key AES-192, below 3DES")
    p.add_argument("--serial", type=int, help="serial number of a new card (default random)")
    p.add_argument("--timing", default="none", help="none | real | NAME=MS,... (see docs)")
    p.add_argument("--fault", action="append", default=[], help="NAME[=VALUE], repeatable")
    p.add_argument("--control", help="unix socket for insert/remove/fault commands")
    p.add_argument("--removed", action="store_true", help="start with the card out of the reader")
    p.add_argument("--no-nodelay", action="store_true",
                   help="leave Nagle and delayed ACKs on (only to measure their cost)")
    p.add_argument("--verbose", action="store_true", help="log APDUs (PINs never shown)")
    p.add_argument("--help-faults", action="store_true", help="list the faults and exit")
    a = p.parse_args()
    if a.help_faults:
        for name, text in piv_card.FAULTS.items():
            print(f"{name:16} {text}")
        for name, ms in piv_card.REAL_TIMING.items():
            print(f"timing {name:16} real: {ms} ms")
        return 0
    if not a.state:
        p.error("--state is required")
    port = a.port or int(os.environ.get("CERTPRESS_VPCD_PORT", "35963"))
    ca_dir = a.ca_dir or os.path.join(os.path.dirname(os.path.abspath(a.state)), "attestation-ca")
    card = piv_card.PivCard(a.state, ca_dir, version=a.version, serial=a.serial)
    try:
        card.timing = piv_card.parse_timing(a.timing)
        for spec in a.fault:
            name, value = piv_card.parse_fault(spec)
            card.faults[name] = value
    except ValueError as e:
        p.error(str(e))
    server = Server(card, a.host, port, nodelay=not a.no_nodelay, verbose=a.verbose)
    card.log = server.log
    server.want_inserted = not a.removed
    if a.control:
        threading.Thread(target=server.control_loop, args=(a.control,), daemon=True).start()
    server.log(f"card serial {card.st['serial']} version {card.st['version']}, state {a.state}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
