#!/usr/bin/python3
"""APDUs per second through a real pcscd to the virtual PIV card (tools/vpiv), with the card's
TCP_NODELAY + TCP_QUICKACK on (as scripts/stack runs it) and off (--no-nodelay).

    bench/vcard_apdu_rate.py [--port P] [--seconds S] [--json FILE]

Starts its own pcscd (a mount namespace of its own, as scripts/stack does; needs root) with one
vpcd entry on ports P and P+1 (default 36190, CERTPRESS_BENCH_VPCD_PORT), a card on each, and
stops both at the end. Two workloads per card: GET VERSION (5-byte command, 5-byte answer) and
GET DATA of a 1,000-byte object with short APDUs (one command and three GET RESPONSEs).
Results in docs/BENCHMARKS.md ("Virtual PIV card").
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "vcard"))
import pcsc  # noqa: E402
import piv_apdu as P  # noqa: E402

VPIV = os.path.join(REPO, "tools", "vpiv", "vpiv.py")
VPIVCTL = os.path.join(REPO, "tools", "vpiv", "vpivctl.py")


def start_pcscd(work, port):
    conf = os.path.join(work, "reader.conf.d")
    os.makedirs(conf)
    with open(os.path.join(conf, "vpcd"), "w") as f:
        f.write(
            'FRIENDLYNAME "Virtual PCD"\nDEVICENAME   /dev/null:0x%X\n'
            "LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so\nCHANNELID    0x%X\n" % (port, port)
        )
    sock = os.path.join(work, "run")
    os.makedirs(sock)
    script = 'mount -t tmpfs tmpfs /run && mkdir -p /run/pcscd && mount --bind "$1" /run/pcscd && exec pcscd --foreground -c "$2"'
    p = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", sock, conf],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    os.environ["PCSCLITE_CSOCK_NAME"] = os.path.join(sock, "pcscd.comm")
    deadline = time.monotonic() + 20
    while not os.path.exists(os.environ["PCSCLITE_CSOCK_NAME"]):
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit("pcscd did not start")
        time.sleep(0.1)
    return p


def start_card(work, port, n, nodelay):
    ctl = os.path.join(work, f"card{n}.sock")
    args = ["/usr/bin/python3", VPIV, "--port", str(port), "--state", os.path.join(work, f"card{n}.json"),
            "--control", ctl] + ([] if nodelay else ["--no-nodelay"])
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while subprocess.run(["/usr/bin/python3", VPIVCTL, ctl, "insert"], capture_output=True).returncode != 0:
        if p.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"card {n} did not come up")
        time.sleep(0.2)
    return p


def rate(card, apdus, seconds):
    n = 0
    t0 = time.monotonic()
    while True:
        for a in apdus:
            card.transmit(a)
        n += len(apdus)
        dt = time.monotonic() - t0
        if dt >= seconds:
            return n / dt


def measure(reader, seconds):
    with pcsc.Context() as ctx, ctx.connect(reader) as card:
        t = card.transmit
        P.ok(t, 0, 0xA4, 4, 0, bytes.fromhex("A000000308"))
        P.mgmt_auth(t)
        P.ok(t, 0, 0xDB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC102")) + P.tlv(0x53, os.urandom(1000)))
        get = P.apdu(0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC102")), le=0)
        version = rate(card, [bytes.fromhex("00FD000000")], seconds)
        # GET DATA + 3 GET RESPONSEs = 4 APDUs per object read
        seq = [get] + [P.apdu(0, 0xC0, 0, 0, le=0)] * 3
        data = rate(card, seq, seconds)
    return {"get_version_apdus_per_s": round(version), "get_data_1000b_apdus_per_s": round(data)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=int(os.environ.get("CERTPRESS_BENCH_VPCD_PORT", "36190")))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not shutil.which("pcscd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")):
        sys.exit("pcscd is not installed (scripts/bootstrap)")
    work = tempfile.mkdtemp(prefix="vcard-bench-")
    procs = []
    try:
        procs.append(start_pcscd(work, a.port))
        procs.append(start_card(work, a.port, 0, nodelay=True))
        procs.append(start_card(work, a.port + 1, 1, nodelay=False))
        result = {
            "nodelay_quickack": measure("Virtual PCD 00 00", a.seconds),
            "plain_tcp": measure("Virtual PCD 00 01", a.seconds),
        }
        on, off = result["nodelay_quickack"], result["plain_tcp"]
        result["ratio_get_version"] = round(on["get_version_apdus_per_s"] / off["get_version_apdus_per_s"], 1)
        print(json.dumps(result, indent=1))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
