#!/usr/bin/python3
"""The virtual PIV card through the stack's real pcscd, checked with tools nobody here wrote:
OpenSC (opensc-tool, pkcs11-tool, piv-tool), yubico-piv-tool and openssl.

    vcard_test.py CASE      one case (ctest runs each as its own test, label vcard)
    vcard_test.py --list    the cases

Needs the stack (scripts/stack up; its env sourced: PCSCLITE_CSOCK_NAME, CERTPRESS_STATE).
Uses card CERTPRESS_VCARD_TEST_CARD (default 1), which it factory-resets before each case:
ctest gives these tests the RESOURCE_LOCK "vcards" so they never run beside other card tests.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import pcsc  # noqa: E402
import piv_apdu as P  # noqa: E402

PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
CARD = os.environ.get("CERTPRESS_VCARD_TEST_CARD", "1")
FIRMWARE = "5.4.3"  # the cards' version for these tests: 3DES factory key, as yubico-piv-tool 2.2 needs
NEW_MGMT = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a09080"


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run(cmd, ok=True, input=None):
    p = subprocess.run(cmd, capture_output=True, text=input is None or isinstance(input, str), input=input)
    out = (p.stdout or "") + (p.stderr or "")
    if ok is True and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)} exited {p.returncode}:\n{out}")
    if ok is False and p.returncode == 0:
        raise Failure(f"{' '.join(cmd)} succeeded but should have failed:\n{out}")
    return out


def vcard_of(card):
    def control(*args):
        out = run([os.path.join(REPO, "scripts", "vcard"), card, *args])
        return out.strip() if args[0] == "reader" else json.loads(out)

    return control


vcard = vcard_of(CARD)


def wait_for_reader(reader, flag, seconds=10):
    """Waits until pcscd reports |flag| (SCARD_STATE_EMPTY or _PRESENT) for |reader|."""
    with pcsc.Context() as ctx:
        deadline = time.monotonic() + seconds
        while not ctx.state(reader) & flag and time.monotonic() < deadline:
            time.sleep(0.05)
        check(ctx.state(reader) & flag, f"pcscd reports {reader} in state {flag:#x}")


class Case:
    def __init__(self, work):
        self.w = work
        self.reader = vcard("reader")
        self.y = ["yubico-piv-tool", "-r", self.reader]
        vcard("fault-clear")
        vcard("timing", "none")
        # Out, seen out by pcscd, reset, in, seen in: a card put back within one of pcscd's
        # polls can be missed, and the case would start on a reader pcscd shows empty.
        vcard("remove")
        wait_for_reader(self.reader, pcsc.SCARD_STATE_EMPTY)
        vcard("factory-reset", FIRMWARE)
        vcard("insert")
        wait_for_reader(self.reader, pcsc.SCARD_STATE_PRESENT)
        self.serial = vcard("status")["serial"]

    def path(self, name):
        return os.path.join(self.w, name)

    def ykpiv(self, *args, ok=True):
        return run(self.y + list(args), ok=ok)

    def generate(self, slot, alg, key=None):
        pub = self.path(f"pub{slot}.pem")
        self.ykpiv("-a", "generate", "-s", slot, "-A", alg, "-o", pub, *(["-k" + key] if key else []))
        return pub

    def test_ca(self):
        key, cert = self.path("tca.key"), self.path("tca.pem")
        if not os.path.exists(cert):
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", cert, "-subj", "/CN=vcard test CA", "-days", "2"])
        return key, cert

    def certify(self, slot, pub):
        """A certificate for the card's public key from an openssl test CA, imported to the slot.
        (yubico-piv-tool 2.2.0's selfsign-certificate fails on OpenSSL 3 before it talks to
        the card: Yubico/yubico-piv-tool#388.)"""
        key, ca = self.test_ca()
        cert = self.path(f"cert{slot}.pem")
        run(["openssl", "x509", "-new", "-force_pubkey", pub, "-subj", f"/CN=holder {slot}", "-CA", ca,
             "-CAkey", key, "-days", "2", "-out", cert])
        self.ykpiv("-a", "import-certificate", "-s", slot, "-i", cert)
        return cert

    def pin_tries(self):
        m = re.search(r"PIN tries left:\s*(\d+)", self.ykpiv("-a", "status"))
        check(m, "yubico-piv-tool -a status shows the PIN tries")
        return int(m.group(1))


def pubkey_of_cert(cert, out):
    run(["openssl", "x509", "-in", cert, "-noout", "-pubkey", "-out", out])
    return out


def same_key(a, b):
    """Two PEM public keys are the same key (compared as DER by openssl)."""

    def der(path):
        p = subprocess.run(["openssl", "pkey", "-pubin", "-in", path, "-outform", "DER"], capture_output=True)
        if p.returncode != 0 or not p.stdout:
            raise Failure(f"openssl cannot read the public key {path}: {p.stderr.decode()}")
        return p.stdout

    return der(a) == der(b)


# --- cases ---------------------------------------------------------------------------------


def case_readers_listed(c):
    """opensc-tool sees the stack's readers and the card in ours, with its ATR."""
    out = run(["opensc-tool", "--list-readers"])
    line = [ln for ln in out.splitlines() if ln.rstrip().endswith(c.reader)]
    check(line and " Yes " in line[0], f"reader {c.reader} listed with a card:\n{out}")
    with pcsc.Context() as ctx:
        check(c.reader in ctx.readers(), "libpcsclite lists the reader")
        check(ctx.state(c.reader) & pcsc.SCARD_STATE_PRESENT, "pcscd reports the card present")


def case_ykpiv_status(c):
    """yubico-piv-tool reads version, serial and PIN tries (GET VERSION, GET SERIAL, VERIFY)."""
    out = c.ykpiv("-a", "status")
    check(re.search(r"Version:\s*5\.4\.3", out), f"version 5.4.3 in:\n{out}")
    check(re.search(rf"Serial Number:\s*{c.serial}\b", out), f"serial {c.serial} in:\n{out}")
    check(re.search(r"PIN tries left:\s*3", out), f"3 PIN tries in:\n{out}")


def case_generate_import_read(c):
    """On-card keys (P-256, RSA-2048, P-384), certificates imported and read back, a test
    signature verified by yubico-piv-tool against the certificate."""
    for slot, alg, text in (("9a", "ECCP256", "prime256v1"), ("9c", "RSA2048", "2048 bit"),
                            ("9d", "ECCP384", "secp384r1")):
        pub = c.generate(slot, alg)
        desc = run(["openssl", "pkey", "-pubin", "-in", pub, "-noout", "-text"])
        check(text in desc, f"{slot}: {alg} public key:\n{desc}")
        cert = c.certify(slot, pub)
        back = c.ykpiv("-a", "read-cert", "-s", slot)
        fp = lambda pem: run(["openssl", "x509", "-noout", "-fingerprint", "-sha256"], input=pem)  # noqa: E731
        with open(cert) as f:
            check(fp(back) == fp(f.read()), f"{slot}: read-cert returns the imported certificate")
    status = c.ykpiv("-a", "status")
    check("CN=holder 9a" in status and "CN=holder 9d" in status, f"status lists the certificates:\n{status}")
    out = c.ykpiv("-a", "verify-pin", "-P", "123456", "-a", "test-signature", "-s", "9a", "-i", c.path("cert9a.pem"))
    check("Successful ECDSA verification" in out, out)
    out = c.ykpiv("-a", "verify-pin", "-P", "123456", "-a", "test-signature", "-s", "9c", "-i", c.path("cert9c.pem"))
    check("Successful RSA verification" in out, out)


def case_wrong_pin_lowers_counter(c):
    """VERIFY with a wrong PIN lowers the retry counter (63Cx); the right one restores it."""
    out = c.ykpiv("-a", "verify-pin", "-P", "000000", ok=False)
    check(re.search(r"2 tries left", out), f"2 tries left in:\n{out}")
    check(c.pin_tries() == 2, "status shows 2 PIN tries")
    c.ykpiv("-a", "verify-pin", "-P", "123456")
    check(c.pin_tries() == 3, "the right PIN restores 3 tries")


def case_change_pin_and_unblock(c):
    """CHANGE REFERENCE DATA for PIN and PUK, a blocked PIN (6983), RESET RETRY COUNTER."""
    c.ykpiv("-a", "change-pin", "-P", "123456", "-N", "87654321")
    c.ykpiv("-a", "verify-pin", "-P", "123456", ok=False)
    c.ykpiv("-a", "verify-pin", "-P", "87654321")
    c.ykpiv("-a", "change-puk", "-P", "12345678", "-N", "23456789")
    for _ in range(3):
        c.ykpiv("-a", "verify-pin", "-P", "000000", ok=False)
    out = c.ykpiv("-a", "verify-pin", "-P", "87654321", ok=False)
    check("blocked" in out.lower(), f"the right PIN is refused once blocked:\n{out}")
    c.ykpiv("-a", "unblock-pin", "-P", "12345678", "-N", "11223344", ok=False)  # the old PUK
    c.ykpiv("-a", "unblock-pin", "-P", "23456789", "-N", "11223344")
    c.ykpiv("-a", "verify-pin", "-P", "11223344")
    check(c.pin_tries() == 3, "unblocked PIN has 3 tries")


def case_reset_when_blocked(c):
    """The Yubico RESET works only with PIN and PUK blocked, and restores the factory PIN."""
    c.generate("9a", "ECCP256")
    c.ykpiv("-a", "reset", ok=False)
    for _ in range(3):
        c.ykpiv("-a", "verify-pin", "-P", "000000", ok=False)
        c.ykpiv("-a", "unblock-pin", "-P", "00000000", "-N", "000000", ok=False)
    c.ykpiv("-a", "reset")
    c.ykpiv("-a", "verify-pin", "-P", "123456")
    out = c.ykpiv("-a", "status")
    check("Slot 9a" not in out, f"no key or certificate left after RESET:\n{out}")


def case_set_mgm_key_and_pin_retries(c):
    """SET MANAGEMENT KEY: the old key is refused, the new one authenticates; SET PIN
    RETRIES sets the counters."""
    c.ykpiv("-a", "set-mgm-key", "-n", NEW_MGMT)
    c.ykpiv("-a", "generate", "-s", "9e", "-A", "ECCP256", ok=False)
    c.generate("9e", "ECCP256", key=NEW_MGMT)
    c.ykpiv("-k" + NEW_MGMT, "-a", "verify-pin", "-P", "123456", "-a", "pin-retries", "--pin-retries", "5",
            "--puk-retries", "4")
    check(c.pin_tries() == 5, "5 PIN tries after SET PIN RETRIES")


def case_faults_after_cert_and_no_set_retries(c):
    """drop-after-cert: the certificate's PUT DATA is answered, then the card is out (and has
    the certificate when put back). no-set-retries: SET PIN RETRIES answers 6D00, the counters
    stay as they were."""
    c.ykpiv("-a", "verify-pin", "-P", "123456", "-a", "pin-retries", "--pin-retries", "5",
            "--puk-retries", "4")
    vcard("fault", "no-set-retries")
    out = c.ykpiv("-a", "verify-pin", "-P", "123456", "-a", "pin-retries", "--pin-retries", "2",
                  "--puk-retries", "2", ok=False)
    check(c.pin_tries() == 5, f"still 5 PIN tries after a refused SET PIN RETRIES:\n{out}")
    pub = c.generate("9a", "ECCP256")
    vcard("fault", "drop-after-cert")
    c.certify("9a", pub)  # yubico-piv-tool saw 9000 for its PUT DATA
    check(not vcard("status")["inserted"], "the card is out after the certificate's PUT DATA")
    check("drop-after-cert" not in vcard("status")["faults"], "the fault fires once")
    # Put back only once pcscd saw it out (put back within one of its polls, pcscd can miss
    # both and keep the reader empty).
    with pcsc.Context() as ctx:
        deadline = time.monotonic() + 10
        while ctx.state(c.reader) & pcsc.SCARD_STATE_PRESENT and time.monotonic() < deadline:
            time.sleep(0.1)
        check(ctx.state(c.reader) & pcsc.SCARD_STATE_EMPTY, "pcscd reports the reader empty")
    vcard("fault-clear")  # as a station's operator would, a moment later
    time.sleep(1)
    vcard("insert")
    wait_for_reader(c.reader, pcsc.SCARD_STATE_PRESENT)
    cert = c.ykpiv("-a", "read-cert", "-s", "9a")
    check("BEGIN CERTIFICATE" in cert, f"the certificate is on the card:\n{cert}")


def case_aes_management_key(c):
    """AES-128/192/256 management keys (set through libpcsclite with our host code), and
    OpenSC's piv-tool authenticating with the AES-256 one and generating a key."""
    with pcsc.Context() as ctx, ctx.connect(c.reader) as card:
        t = card.transmit
        P.ok(t, 0, 0xA4, 4, 0, bytes.fromhex("A000000308"))
        P.mgmt_auth(t)
        current = (0x03, P.DEFAULT_MGMT)
        for alg, n in ((0x08, 16), (0x0A, 24), (0x0C, 32)):
            P.mgmt_auth(t, *current)
            key = os.urandom(n)
            P.set_mgmt_key(t, alg, key)
            current = (alg, key)
    keyfile = c.path("aes.key")
    with open(keyfile, "w") as f:
        f.write(current[1].hex())
    with pcsc.Context() as ctx:
        idx = str(ctx.readers().index(c.reader))  # piv-tool -r takes the reader's number
    put = "00:DB:3F:FF:09:5C:03:5F:C1:02:53:02:AA:BB"  # PUT DATA needs the management key

    def piv_tool(*args):
        vcard("remove")  # a fresh power-up: no security status left from earlier sessions
        vcard("insert")
        p = subprocess.run(["piv-tool", "-r", idx, *args, "-s", put], capture_output=True, text=True,
                           env=dict(os.environ, PIV_EXT_AUTH_KEY=keyfile))
        return p.stdout + p.stderr

    out = piv_tool()
    check("SW1=0x69, SW2=0x82" in out, f"PUT DATA refused without authentication:\n{out}")
    out = piv_tool("-A", "M:9B:03")
    check("SW1=0x90" not in out, f"the AES key refused as a 3DES key:\n{out}")
    out = piv_tool("-A", "M:9B:0C")
    check("SW1=0x90, SW2=0x00" in out, f"piv-tool authenticates with the AES-256 key:\n{out}")


def case_aes192_factory_key_from_5_7(c):
    """A card with firmware 5.7 has an AES-192 factory management key: OpenSC's piv-tool
    authenticates with it as AES-192 (0A), not as 3DES (03)."""
    vcard("factory-reset", "5.7.1")
    out = c.ykpiv("-a", "status")
    check(re.search(r"Version:\s*5\.7\.1", out), f"version 5.7.1 in:\n{out}")
    keyfile = c.path("default.key")
    with open(keyfile, "w") as f:
        f.write("010203040506070801020304050607080102030405060708")
    with pcsc.Context() as ctx:
        idx = str(ctx.readers().index(c.reader))
    put = "00:DB:3F:FF:09:5C:03:5F:C1:02:53:02:AA:BB"
    outs = {}
    for alg in ("03", "0A"):
        vcard("remove")
        vcard("insert")
        p = subprocess.run(["piv-tool", "-r", idx, "-A", f"M:9B:{alg}", "-s", put], capture_output=True, text=True,
                           env=dict(os.environ, PIV_EXT_AUTH_KEY=keyfile))
        outs[alg] = p.stdout + p.stderr
    check("SW1=0x90" not in outs["03"], f"3DES refused on a 5.7 card:\n{outs['03']}")
    check("SW1=0x90, SW2=0x00" in outs["0A"], f"AES-192 with the factory key:\n{outs['0A']}")


def case_attestation_chain(c):
    """ATTEST: openssl verifies the attestation certificate through the device certificate
    (slot F9) to the vpiv root, and it certifies the key GENERATE returned."""
    pub = c.generate("9a", "ECCP256")
    att = c.path("att.pem")
    c.ykpiv("-a", "attest", "-s", "9a", "-o", att)
    f9 = c.path("f9.pem")
    c.ykpiv("-a", "read-cert", "-s", "f9", "-o", f9)
    ca = os.environ["CERTPRESS_VPIV_ATTESTATION_CA"]
    out = run(["openssl", "verify", "-CAfile", ca, "-untrusted", f9, att])
    check(out.strip().endswith("OK"), out)
    check(same_key(pubkey_of_cert(att, c.path("attpub.pem")), pub), "the attested key is the generated one")
    text = run(["openssl", "x509", "-in", att, "-noout", "-text"])
    check("1.3.6.1.4.1.41482.3.7" in text, "Yubico serial extension present")
    # Imported keys are not attested.
    k = c.path("imp.key")
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", k])
    c.ykpiv("-a", "import-key", "-s", "9d", "-i", k)
    c.ykpiv("-a", "attest", "-s", "9d", ok=False)


def case_attestation_faults(c):
    """Faults for the product's checks: a bad attestation signature fails openssl verify; a
    wrong public key from GENERATE differs from the attested one."""
    ca = os.environ["CERTPRESS_VPIV_ATTESTATION_CA"]
    c.generate("9a", "ECCP256")
    f9 = c.path("f9.pem")
    c.ykpiv("-a", "read-cert", "-s", "f9", "-o", f9)
    vcard("fault", "bad-attestation")
    att = c.path("bad.pem")
    c.ykpiv("-a", "attest", "-s", "9a", "-o", att)
    run(["openssl", "verify", "-CAfile", ca, "-untrusted", f9, att], ok=False)
    vcard("fault-clear")
    vcard("fault", "wrong-pubkey")
    pub = c.generate("9c", "ECCP256")
    vcard("fault-clear")
    att = c.path("att9c.pem")
    c.ykpiv("-a", "attest", "-s", "9c", "-o", att)
    run(["openssl", "verify", "-CAfile", ca, "-untrusted", f9, att])
    check(not same_key(pubkey_of_cert(att, c.path("attpub.pem")), pub), "GENERATE's key differs from the card's")


def case_pkcs11_list_and_sign(c):
    """OpenSC's PKCS#11 module lists the certificates and keys, signs with ECDSA P-256 (9a),
    RSA-2048 (9c, PIN-always) and ECDSA P-384 (9e), and openssl verifies each signature
    against its certificate; ECDH with 9d gives openssl's shared secret."""
    cert_a = c.certify("9a", c.generate("9a", "ECCP256"))
    cert_c = c.certify("9c", c.generate("9c", "RSA2048"))
    cert_e = c.certify("9e", c.generate("9e", "ECCP384"))
    pub_d = c.generate("9d", "ECCP256")
    c.certify("9d", pub_d)
    slot = ["--slot-description", c.reader]
    out = run(["pkcs11-tool", "--module", PKCS11, *slot, "--list-objects"])
    check("CN=holder 9a" in out and "CN=holder 9c" in out, f"both certificates listed:\n{out}")
    msg = c.path("msg.txt")
    with open(msg, "w") as f:
        f.write("signed by a virtual card\n")
    for kid, mech, cert, dgst in (("01", "ECDSA-SHA256", cert_a, "-sha256"), ("02", "SHA256-RSA-PKCS", cert_c, "-sha256"),
                                  ("04", "ECDSA-SHA384", cert_e, "-sha384")):
        sig = c.path(f"sig{kid}.bin")
        run(["pkcs11-tool", "--module", PKCS11, *slot, "--login", "--pin", "123456",
             "--sign", "--id", kid, "-m", mech, "--signature-format", "openssl", "-i", msg, "-o", sig])
        pub = pubkey_of_cert(cert, c.path(f"p{kid}.pem"))
        out = run(["openssl", "dgst", dgst, "-verify", pub, "-signature", sig, msg])
        check("Verified OK" in out, f"{mech}: {out}")
    # OpenSC offers the key-management key (9D, EC) for key agreement only: ECDH with a peer
    # key, the shared secret compared with openssl's from the peer's side.
    peer, peer_der = c.path("peer.key"), c.path("peer.der")
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", peer])
    run(["openssl", "pkey", "-in", peer, "-pubout", "-outform", "DER", "-out", peer_der])
    ours, theirs = c.path("ecdh-card.bin"), c.path("ecdh-openssl.bin")
    run(["pkcs11-tool", "--module", PKCS11, *slot, "--login", "--pin", "123456", "--derive", "-m", "ECDH1-DERIVE",
         "--id", "03", "-i", peer_der, "-o", ours])
    run(["openssl", "pkeyutl", "-derive", "-inkey", peer, "-peerkey", pub_d, "-out", theirs])
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        check(a.read() == b.read(), "the card's ECDH secret is openssl's")


def case_removal_reported_by_pcscd(c):
    """A card pulled out in the middle of a command: the client's SCardTransmit fails with a
    removal error, pcscd reports the reader empty, and after insert the same card is back."""
    with pcsc.Context() as ctx:
        card = ctx.connect(c.reader)
        P.ok(card.transmit, 0, 0xA4, 4, 0, bytes.fromhex("A000000308"))
        vcard("fault", "drop-on=FD")  # GET VERSION
        # vpcd answers the interrupted command itself with success and no bytes (no status
        # word, so no answer); until pcscd's next poll of the reader a command fails with
        # SCARD_E_NOT_TRANSACTED, after it with SCARD_W_REMOVED_CARD.
        try:
            card.transmit(bytes.fromhex("00FD000000"))
            raise Failure("the card answered a command it was pulled out during")
        except (pcsc.EmptyResponse, pcsc.PcscError):
            pass
        deadline = time.monotonic() + 10
        while ctx.state(c.reader) & pcsc.SCARD_STATE_PRESENT and time.monotonic() < deadline:
            time.sleep(0.1)
        check(ctx.state(c.reader) & pcsc.SCARD_STATE_EMPTY, "pcscd reports the reader empty")
        try:
            card.transmit(bytes.fromhex("00FD000000"))
            raise Failure("the transmit to a pulled card succeeded")
        except pcsc.PcscError as e:
            check(e.rv in (pcsc.SCARD_W_REMOVED_CARD, pcsc.SCARD_E_NO_SMARTCARD), f"removal error, got {e.name}")
        card.disconnect()
        out = run(["opensc-tool", "--list-readers"])
        line = [ln for ln in out.splitlines() if ln.rstrip().endswith(c.reader)]
        check(line and " No " in line[0], f"opensc-tool shows no card:\n{out}")
        # Pulled out while the card works (a slow command), through the control socket.
        vcard("insert")
        vcard("fault", "slow=3000")
        card = ctx.connect(c.reader)
        errors = []

        def slow():
            try:
                card.transmit(bytes.fromhex("00A4040005A000000308"))
            except (pcsc.EmptyResponse, pcsc.PcscError) as e:
                errors.append(e)

        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.5)
        vcard("remove")
        th.join(20)
        check(errors, "the command the card was pulled out during got no answer")
        deadline = time.monotonic() + 10
        while ctx.state(c.reader) & pcsc.SCARD_STATE_PRESENT and time.monotonic() < deadline:
            time.sleep(0.1)
        check(ctx.state(c.reader) & pcsc.SCARD_STATE_EMPTY, "pcscd reports the reader empty")
        try:
            card.transmit(bytes.fromhex("00FD000000"))
            raise Failure("the transmit to a pulled card succeeded")
        except pcsc.PcscError as e:
            check(e.rv in (pcsc.SCARD_W_REMOVED_CARD, pcsc.SCARD_E_NO_SMARTCARD), f"removal error, got {e.name}")
        card.disconnect()
        vcard("fault-clear")
        vcard("insert")
        check(ctx.state(c.reader) & pcsc.SCARD_STATE_PRESENT, "present again after insert")
    out = c.ykpiv("-a", "status")
    check(re.search(rf"Serial Number:\s*{c.serial}\b", out), "the same card is back")


def case_two_cards_at_once(c):
    """Two readers at once through one pcscd: key generation (1.5 s emulated) on both cards
    concurrently, each card with its own serial and key. (That the waits overlap is measured
    in docs/BENCHMARKS.md, not asserted here.)"""
    other = str(int(CARD) % int(os.environ.get("CERTPRESS_VIRTUAL_CARDS", "2")) + 1)
    check(other != CARD, "the stack has a second card")
    second = vcard_of(other)
    second("fault-clear")
    second("factory-reset", FIRMWARE)
    second("insert")
    readers = [c.reader, second("reader")]
    serials = [c.serial, second("status")["serial"]]
    check(serials[0] != serials[1], f"two cards, two serials: {serials}")
    try:
        for v in (vcard, second):
            v("timing", "gen-p256=1500")
        procs = []
        for i, r in enumerate(readers):
            procs.append(subprocess.Popen(["yubico-piv-tool", "-r", r, "-a", "generate", "-s", "9a", "-A", "ECCP256",
                                           "-o", c.path(f"two{i}.pem")], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        outs = [p.communicate(timeout=120)[0] for p in procs]
        check(all(p.returncode == 0 for p in procs), f"both generated: {outs}")
        check(not same_key(c.path("two0.pem"), c.path("two1.pem")), "two different keys")
        for i, r in enumerate(readers):
            out = run(["yubico-piv-tool", "-r", r, "-a", "status"])
            check(re.search(rf"Serial Number:\s*{serials[i]}\b", out), f"{r} is card {serials[i]}")
    finally:
        second("timing", "none")
        second("factory-reset", FIRMWARE)


def case_timing_emulation(c):
    """With timing on, on-card RSA-2048 generation takes the emulated seconds (a sanity check
    that the option works, bounds far from the emulated figure; speed is for scripts/bench)."""
    vcard("timing", "real,gen-rsa2048=1500")
    t0 = time.monotonic()
    c.generate("9a", "RSA2048")
    took = time.monotonic() - t0
    vcard("timing", "none")
    check(took >= 1.5, f"RSA-2048 generation took {took:.2f} s with 1.5 s emulated")


CASES = {name[5:].replace("_", "-"): fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    if sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    fn = CASES.get(sys.argv[1])
    if fn is None:
        sys.stderr.write(f"unknown case {sys.argv[1]}; --list shows them\n")
        return 2
    if not os.environ.get("PCSCLITE_CSOCK_NAME"):
        sys.stderr.write("PCSCLITE_CSOCK_NAME is not set: start the stack and source its env\n")
        return 1
    with tempfile.TemporaryDirectory(prefix="vcard-test-") as work:
        try:
            fn(Case(work))
        except Failure as e:
            sys.stderr.write(f"FAIL {sys.argv[1]}: {e}\n")
            return 1
        finally:
            try:  # leave the card as the next user expects it: factory state, in, no faults
                vcard("fault-clear")
                vcard("timing", "none")
                vcard("factory-reset", FIRMWARE)
                vcard("insert")
            except Exception as e:  # noqa: BLE001
                sys.stderr.write(f"could not restore card {CARD}: {e}\n")
    print(f"PASS {sys.argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
