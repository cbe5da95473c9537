"""The PIV card application of vpiv: APDU in, APDU out, state in a JSON file.

Implements the card-edge command set of NIST SP 800-73-4 part 2 (section 3: SELECT, GET DATA,
PUT DATA, VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER, GENERAL AUTHENTICATE, GENERATE
ASYMMETRIC KEY PAIR), ISO 7816-4 command chaining (CLA bit 0x10, section 5.1.1.1) and response
chaining (61xx + GET RESPONSE, section 5.3.4), and the PIV extensions Yubico documents for the
YubiKey (GET VERSION FD, GET SERIAL F8, SET MANAGEMENT KEY FF, IMPORT KEY FE, ATTEST F9,
SET PIN RETRIES FA, RESET FB, GET METADATA F7).

This is a development and test tool, never part of CertPress: private keys sit in the state file.
"""

import datetime
import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID

try:  # TripleDES moved to the "decrepit" module in newer releases; Debian 12 has it here.
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover
    TripleDES = algorithms.TripleDES

# --- constants (SP 800-78-4 table 6-2 algorithm identifiers, SP 800-73-4 part 1 table 4b) ------

PIV_AID = bytes.fromhex("A000000308")
PIV_AID_FULL = bytes.fromhex("A000000308000010000100")  # PIX: application 0000 1000, version 0100

ALG_3DES = 0x03
ALG_AES128 = 0x08
ALG_AES192 = 0x0A
ALG_AES256 = 0x0C
ALG_RSA1024 = 0x06
ALG_RSA2048 = 0x07
ALG_P256 = 0x11
ALG_P384 = 0x14
SYM_KEY_LEN = {ALG_3DES: 24, ALG_AES128: 16, ALG_AES192: 24, ALG_AES256: 32}
EC_CURVES = {ALG_P256: ec.SECP256R1, ALG_P384: ec.SECP384R1}
EC_SIZE = {ALG_P256: 32, ALG_P384: 48}
RSA_BITS = {ALG_RSA1024: 1024, ALG_RSA2048: 2048}

PIN_REF = 0x80
PUK_REF = 0x81
MGMT_REF = 0x9B
ASYM_SLOTS = {0x9A, 0x9C, 0x9D, 0x9E, 0xF9} | set(range(0x82, 0x96))

# PIN policies as in Yubico's GENERATE tag AA: 1 never, 2 once per session, 3 always.
PIN_NEVER, PIN_ONCE, PIN_ALWAYS = 1, 2, 3
DEFAULT_PIN_POLICY = {0x9A: PIN_ONCE, 0x9C: PIN_ALWAYS, 0x9D: PIN_ONCE, 0x9E: PIN_NEVER}

DEFAULT_PIN = b"123456"
DEFAULT_PUK = b"12345678"
DEFAULT_MGMT = bytes.fromhex("010203040506070801020304050607080102030405060708")

# Objects that need the PIN for GET DATA (SP 800-73-4 part 1 table 3: cardholder fingerprints,
# printed information, facial image, iris images). Yubico tools keep a PIN-protected management
# key in the printed information object.
PIN_PROTECTED_OBJECTS = {0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121}
# Discovery object (SP 800-73-4 part 1 section 3.3.2): PIV AID, PIN usage policy "PIV PIN only".
DISCOVERY = bytes.fromhex("7E124F0BA0000003080000100001005F2F024000")
ATTESTATION_OBJECT = 0x5FFF01  # Yubico: the device attestation certificate (slot F9)

# Yubico attestation certificate extensions (developers.yubico.com/PIV/Introduction/PIV_attestation)
OID_YK_FIRMWARE = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.3")
OID_YK_SERIAL = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.7")
OID_YK_POLICY = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.8")
OID_YK_FORMFACTOR = x509.ObjectIdentifier("1.3.6.1.4.1.41482.3.9")

# Status words (SP 800-73-4 part 2 section 3, ISO 7816-4 table 6).
SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6983
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_NO_SPACE = 0x6A84
SW_INCORRECT_P1P2 = 0x6A86
SW_REF_NOT_FOUND = 0x6A88
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00


class CardError(Exception):
    """A status word other than 9000 answered to the current command."""

    def __init__(self, sw):
        super().__init__(f"SW {sw:04X}")
        self.sw = sw


# --- BER-TLV (ISO 7816-4 section 5.2; PIV uses one- or two-byte tags and definite lengths) -------


def tlv_len(n):
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    if n < 0x10000:
        return bytes([0x82, n >> 8, n & 0xFF])
    return bytes([0x83, n >> 16, (n >> 8) & 0xFF, n & 0xFF])


def tlv(tag, value):
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + tlv_len(len(value)) + value


def parse_tlvs(data):
    """Returns [(tag, value)], raising CardError(6A80) on truncated or malformed input."""
    out = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:  # multi-byte tag
            while True:
                if i >= len(data):
                    raise CardError(SW_WRONG_DATA)
                tag = (tag << 8) | data[i]
                i += 1
                if not data[i - 1] & 0x80:
                    break
        if i >= len(data):
            raise CardError(SW_WRONG_DATA)
        n = data[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            if k == 0 or k > 3 or i + k > len(data):
                raise CardError(SW_WRONG_DATA)
            n = int.from_bytes(data[i : i + k], "big")
            i += k
        if i + n > len(data):
            raise CardError(SW_WRONG_DATA)
        out.append((tag, data[i : i + n]))
        i += n
    return out


def tlv_dict(data):
    return {t: v for t, v in parse_tlvs(data)}


# --- APDU parsing (ISO 7816-4 section 5.1: the four cases, short and extended) ------------------


class Apdu:
    def __init__(self, raw):
        if len(raw) < 4:
            raise CardError(SW_WRONG_LENGTH)
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        self.data = b""
        self.le = None  # None: no Le field
        self.extended = False
        if not body:
            return
        if len(body) == 1:  # case 2 short
            self.le = body[0] or 256
            return
        if body[0] == 0 and len(body) >= 3:  # extended
            self.extended = True
            if len(body) == 3:  # case 2 extended
                self.le = int.from_bytes(body[1:3], "big") or 65536
                return
            lc = int.from_bytes(body[1:3], "big")
            if len(body) == 3 + lc:
                self.data = body[3:]
            elif len(body) == 3 + lc + 2:
                self.data = body[3 : 3 + lc]
                self.le = int.from_bytes(body[3 + lc :], "big") or 65536
            else:
                raise CardError(SW_WRONG_LENGTH)
            return
        lc = body[0]
        if lc == 0 or len(body) not in (1 + lc, 2 + lc):
            raise CardError(SW_WRONG_LENGTH)
        self.data = body[1 : 1 + lc]
        if len(body) == 2 + lc:
            self.le = body[1 + lc] or 256


# --- keys -------------------------------------------------------------------------------------


def key_to_pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def key_from_pem(pem):
    return serialization.load_pem_private_key(pem.encode(), None)


def generate_key(alg):
    if alg in EC_CURVES:
        return ec.generate_private_key(EC_CURVES[alg]())
    if alg in RSA_BITS:
        return rsa.generate_private_key(65537, RSA_BITS[alg])
    raise CardError(SW_WRONG_DATA)


def public_key_template(alg, public_key):
    """The 7F49 template of GENERATE's response (SP 800-73-4 part 2 section 3.3.2, table 10)."""
    if alg in EC_CURVES:
        point = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        inner = tlv(0x86, point)
    else:
        nums = public_key.public_numbers()
        n = nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")
        e = nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")
        inner = tlv(0x81, n) + tlv(0x82, e)
    return tlv(0x7F49, inner)


def raw_rsa(key, data):
    """RSA private operation on the raw block (the card signs what the host padded)."""
    nums = key.private_numbers()
    n = nums.public_numbers.n
    if len(data) != (n.bit_length() + 7) // 8:
        raise CardError(SW_WRONG_DATA)
    m = int.from_bytes(data, "big")
    if m >= n:
        raise CardError(SW_WRONG_DATA)
    # CRT (PKCS #1 v2.2 section 5.1.2)
    m1 = pow(m, nums.dmp1, nums.p)
    m2 = pow(m, nums.dmq1, nums.q)
    h = (nums.iqmp * (m1 - m2)) % nums.p
    return (m2 + h * nums.q).to_bytes(len(data), "big")


def ecdsa_raw(key, alg, digest):
    """ECDSA over a hash computed by the host: truncated or left-padded to the field size, as
    FIPS 186-4 section 6.4 uses the leftmost bits of the hash."""
    size = EC_SIZE[alg]
    digest = digest[:size].rjust(size, b"\0")
    halg = hashes.SHA256() if size == 32 else hashes.SHA384()
    return key.sign(digest, ec.ECDSA(utils.Prehashed(halg)))


def sym_cipher(alg, key):
    if alg == ALG_3DES:
        return Cipher(TripleDES(key), modes.ECB()), 8
    return Cipher(algorithms.AES(key), modes.ECB()), 16


def sym_encrypt(alg, key, block):
    c, _ = sym_cipher(alg, key)
    e = c.encryptor()
    return e.update(block) + e.finalize()


# --- attestation CA (shared by all cards of a directory, as Yubico's root is by all YubiKeys) ---


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def load_or_create_ca(ca_dir):
    """The vpiv attestation root: ca.key and ca.pem in ca_dir, created once (under a lock)."""
    import fcntl

    os.makedirs(ca_dir, exist_ok=True)
    key_path = os.path.join(ca_dir, "ca.key")
    cert_path = os.path.join(ca_dir, "ca.pem")
    with open(os.path.join(ca_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(key_path) and os.path.exists(cert_path)):
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vpiv PIV Attestation Root CA")])
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(_now() - datetime.timedelta(days=1))
                .not_valid_after(_now() + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                    critical=True,
                )
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                .sign(key, hashes.SHA256())
            )
            _write_private(key_path, key_to_pem(key).encode())
            _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    with open(cert_path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return key, cert


def _write_private(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path))
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make_device_cert(ca_key, ca_cert, device_key, serial):
    """The device's attestation certificate (slot F9), an intermediate CA under the root."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "vpiv PIV Attestation"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, str(serial)),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(device_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now() - datetime.timedelta(days=1))
        .not_valid_after(_now() + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, False, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )


def cert_object(der):
    """A PIV certificate container (SP 800-73-4 part 1 table 10): 70 cert, 71 info, FE LRC."""
    return tlv(0x70, der) + tlv(0x71, b"\x00") + tlv(0xFE, b"")


# --- timing -----------------------------------------------------------------------------------

# What a contact smart card or a YubiKey 5 takes, roughly (ms): per APDU, on-card key
# generation and private-key operations. "real" turns these on; each can be overridden.
REAL_TIMING = {
    "apdu": 4,
    "gen-p256": 100,
    "gen-p384": 250,
    "gen-rsa2048": 4000,
    "gen-rsa1024": 800,
    "sign-p256": 60,
    "sign-p384": 120,
    "sign-rsa2048": 180,
    "sign-rsa1024": 60,
    "auth": 20,
    "import": 60,
    "attest": 150,
}
ALG_NAME = {ALG_P256: "p256", ALG_P384: "p384", ALG_RSA2048: "rsa2048", ALG_RSA1024: "rsa1024"}


def parse_timing(spec):
    """'none' | 'real' | 'real,gen-rsa2048=6000' | 'apdu=10,...' -> {name: ms}."""
    out = {}
    for part in filter(None, (p.strip() for p in (spec or "none").split(","))):
        if part == "none":
            out = {}
        elif part == "real":
            out = dict(REAL_TIMING)
        elif "=" in part:
            k, v = part.split("=", 1)
            if k not in REAL_TIMING:
                raise ValueError(f"unknown timing '{k}' (known: {', '.join(REAL_TIMING)})")
            out[k] = float(v)
        else:
            raise ValueError(f"bad timing '{part}': none, real or NAME=MS")
    return out


FAULTS = {
    "slow": "MS added before every response",
    "drop-on": "INS (hex): at the next command with that INS the card is pulled out, unanswered",
    "drop-after": "N: the card is pulled out at the Nth command from now, unanswered",
    "drop-delay": "MS the card works on a dropped command before it is pulled out (default 0)",
    "reinsert-after": "MS after a drop the card is inserted again (default: stays out)",
    "wrong-pubkey": "GENERATE answers another key's public key (the card keeps its own)",
    "bad-attestation": "signature (default): ATTEST signed by a key other than F9's; "
    "pubkey: it attests another public key",
    "accept-any-pin": "VERIFY accepts any PIN",
    "max-response": "N: at most N bytes of data per response, the rest by 61xx/GET RESPONSE",
    "le-6c": "a short Le other than the answer's length gets 6Cxx (ISO 7816-4 5.3.4), no data",
    "mute": "the card never answers APDUs (a hung card)",
    "mute-on": "INS (hex): from the next command with that INS on, the card never answers",
    "drop-after-cert": "the card is pulled out right after it answered the first PUT DATA of a "
    "certificate object with 9000 (the certificate is on the card)",
    "no-set-retries": "SET PIN RETRIES (Yubico INS FA) answers 6D00, as a card without it",
}

# Certificate objects (SP 800-73-4 Part 1 Table 3 and the retired key history objects).
CERT_OBJECTS = {0x5FC101, 0x5FC105, 0x5FC10A, 0x5FC10B} | set(range(0x5FC10D, 0x5FC121))


def parse_fault(spec):
    name, _, value = spec.partition("=")
    if name not in FAULTS:
        raise ValueError(f"unknown fault '{name}' (known: {', '.join(FAULTS)})")
    if name in ("slow", "drop-after", "drop-delay", "reinsert-after"):
        float(value)
    elif name == "max-response":
        if not 1 <= int(value) <= 65536:
            raise ValueError("max-response=N with 1 <= N <= 65536")
    elif name in ("drop-on", "mute-on"):
        int(value, 16)
    elif name == "bad-attestation":
        value = value or "signature"
        if value not in ("signature", "pubkey"):
            raise ValueError("bad-attestation=signature|pubkey")
    return name, value or "1"


# --- the card ---------------------------------------------------------------------------------


class PivCard:
    def __init__(self, state_path, ca_dir, version="5.4.3", serial=None, log=None):
        self.state_path = state_path
        self.ca_key, self.ca_cert = load_or_create_ca(ca_dir)
        self.log = log or (lambda msg: None)
        self.lock = threading.Lock()  # state vs. control thread
        self.timing = {}
        self.faults = {}
        self.last_put = None  # the object the last PUT DATA wrote (for drop-after-cert)
        self.sleep = time.sleep  # replaced by the server with an interruptible wait
        if os.path.exists(state_path):
            with open(state_path) as f:
                self.st = json.load(f)
        else:
            self.st = self._factory(version, serial or secrets.randbelow(90000000) + 10000000)
            self.save()
        self._keys = {}
        self.power_reset()

    # -- state --

    def _factory(self, version, serial):
        st = {"serial": serial, "version": version}
        self._reset_app(st)
        device_key = ec.generate_private_key(ec.SECP256R1())
        cert = make_device_cert(self.ca_key, self.ca_cert, device_key, serial)
        st["keys"]["f9"] = {
            "alg": ALG_P256,
            "pem": key_to_pem(device_key),
            "pin_policy": PIN_NEVER,
            "touch_policy": 1,
            "origin": "factory",
        }
        st["objects"]["%06x" % ATTESTATION_OBJECT] = cert_object(
            cert.public_bytes(serialization.Encoding.DER)
        ).hex()
        return st

    def _reset_app(self, st):
        """Factory PIV state (keeps serial, version and the attestation key and certificate)."""
        keep_keys = {k: v for k, v in st.get("keys", {}).items() if k == "f9"}
        keep_objs = {
            k: v for k, v in st.get("objects", {}).items() if k == "%06x" % ATTESTATION_OBJECT
        }
        st["pin"] = self._secret(DEFAULT_PIN, 3, default=True)
        st["puk"] = self._secret(DEFAULT_PUK, 3, default=True)
        aes = tuple(int(x) for x in st["version"].split(".")) >= (5, 7, 0)
        st["mgmt"] = {"alg": ALG_AES192 if aes else ALG_3DES, "key": DEFAULT_MGMT.hex(), "touch": 0}
        st["keys"] = keep_keys
        st["objects"] = keep_objs

    @staticmethod
    def _secret(value, tries, default=False):
        """A PIN or PUK as the state keeps it: salted SHA-256, never the value itself."""
        salt = secrets.token_bytes(16)
        return {
            "salt": salt.hex(),
            "hash": hashlib.sha256(salt + value).hexdigest(),
            "max": tries,
            "left": tries,
            "default": default,  # GET METADATA tells whether the factory value is still set
        }

    @staticmethod
    def _matches(secret, value):
        h = hashlib.sha256(bytes.fromhex(secret["salt"]) + value).hexdigest()
        return hmac.compare_digest(h, secret["hash"])

    def save(self):
        d = os.path.dirname(os.path.abspath(self.state_path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".vpiv-")
        with os.fdopen(fd, "w") as f:
            json.dump(self.st, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def factory_reset(self, version=None):
        """Factory state again (same serial and attestation key); optionally another firmware
        version, which also picks the factory management key's algorithm."""
        if version is not None:
            parts = version.split(".")
            if len(parts) != 3 or not all(p.isdigit() and int(p) < 256 for p in parts):
                raise ValueError(f"version must be X.Y.Z, not '{version}'")
        with self.lock:
            if version is not None:
                self.st["version"] = version
            self._reset_app(self.st)
            self._keys = {}
            self.save()
            self.power_reset()

    @property
    def version(self):
        return tuple(int(x) for x in self.st["version"].split("."))

    def atr(self):
        # A YubiKey 5 ATR (T=1); OpenSC and yubico-piv-tool treat the card as a YubiKey-class
        # PIV card, which is what vpiv implements.
        return bytes.fromhex("3BFD1300008131FE158073C021C057597562694B657940")

    def _key(self, slot):
        k = "%02x" % slot
        if k not in self.st["keys"]:
            return None, None
        if k not in self._keys:
            self._keys[k] = key_from_pem(self.st["keys"][k]["pem"])
        return self._keys[k], self.st["keys"][k]

    def power_reset(self):
        """Power off/on or warm reset: the security status and all pending chains go."""
        self.pin_verified = False
        self.pin_fresh = False  # for PIN-always keys: a VERIFY right before the operation
        self.mgmt_authed = False
        self.witness = None
        self.challenge = None
        self.chain = None  # (ins, p1, p2, data so far)
        self.pending = b""  # response bytes left for GET RESPONSE

    # -- APDU entry point --

    def wait(self, name, started=None):
        ms = self.timing.get(name, 0)
        if ms:
            spent = 0 if started is None else (time.monotonic() - started) * 1000
            if ms > spent:
                self.sleep((ms - spent) / 1000)

    def process(self, raw):
        with self.lock:
            try:
                apdu = Apdu(raw)
                if apdu.cla & ~0x10 not in (0x00,):
                    raise CardError(SW_CLA_NOT_SUPPORTED)
                if apdu.ins == 0xC0:  # GET RESPONSE (ISO 7816-4 section 7.6.1)
                    if not self.pending:
                        raise CardError(SW_CONDITIONS)
                    return self._respond(self.pending, apdu)
                self.pending = b""
                # Command chaining: the card collects the data of every command with CLA bit
                # 0x10 and runs the command when the last one (bit clear) arrives.
                if self.chain is not None and self.chain[0:3] != (apdu.ins, apdu.p1, apdu.p2):
                    self.chain = None
                if apdu.cla & 0x10:
                    prev = self.chain[3] if self.chain else b""
                    if len(prev) + len(apdu.data) > 0x10000:
                        self.chain = None
                        raise CardError(SW_WRONG_LENGTH)
                    self.chain = (apdu.ins, apdu.p1, apdu.p2, prev + apdu.data)
                    return b"", SW_OK
                if self.chain is not None:
                    apdu.data = self.chain[3] + apdu.data
                    self.chain = None
                handler = self.HANDLERS.get(apdu.ins)
                if handler is None:
                    raise CardError(SW_INS_NOT_SUPPORTED)
                data = handler(self, apdu) or b""
                return self._respond(data, apdu)
            except CardError as e:
                return b"", e.sw

    def _respond(self, data, apdu):
        """Response chaining (ISO 7816-4 section 5.3.4): at most Le bytes, 61xx while more."""
        limit = apdu.le if apdu.le is not None else (65536 if apdu.extended else 256)
        if (
            "le-6c" in self.faults
            and apdu.le is not None
            and not apdu.extended
            and apdu.ins != 0xC0
            and data
            and len(data) < 256
            and apdu.le != len(data)
        ):
            # "Wrong Le field; SW2 encodes the exact number of available data bytes": the host
            # repeats the command with that Le.
            self.pending = b""
            return b"", 0x6C00 | len(data)
        if "max-response" in self.faults:
            limit = min(limit, int(self.faults["max-response"]))
        if len(data) <= limit:
            self.pending = b""
            return data, SW_OK
        self.pending = data[limit:]
        left = len(self.pending)
        return data[:limit], 0x6100 | (left if left < 256 else 0)

    # -- SELECT (SP 800-73-4 part 2 section 3.1.1) --

    def cmd_select(self, a):
        if a.p1 != 0x04:
            raise CardError(SW_INCORRECT_P1P2)
        if not a.data or not PIV_AID_FULL.startswith(a.data) or len(a.data) < len(PIV_AID):
            raise CardError(SW_NOT_FOUND)
        # Application property template: AID, coexistent tag allocation authority (PIV).
        return tlv(0x61, tlv(0x4F, PIV_AID_FULL[5:]) + tlv(0x79, tlv(0x4F, PIV_AID)))

    # -- GET DATA / PUT DATA (section 3.1.2, 3.3.2) --

    @staticmethod
    def _object_tag(value):
        if not 1 <= len(value) <= 3:
            raise CardError(SW_WRONG_DATA)
        return int.from_bytes(value, "big")

    def cmd_get_data(self, a):
        if (a.p1, a.p2) != (0x3F, 0xFF):
            raise CardError(SW_INCORRECT_P1P2)
        t = tlv_dict(a.data)
        if 0x5C not in t:
            raise CardError(SW_WRONG_DATA)
        tag = self._object_tag(t[0x5C])
        if tag == 0x7E:
            return DISCOVERY
        if tag in PIN_PROTECTED_OBJECTS and not self.pin_verified:
            raise CardError(SW_SECURITY)
        obj = self.st["objects"].get("%06x" % tag)
        if obj is None:
            raise CardError(SW_NOT_FOUND)
        return tlv(0x53, bytes.fromhex(obj))

    def cmd_put_data(self, a):
        if (a.p1, a.p2) != (0x3F, 0xFF):
            raise CardError(SW_INCORRECT_P1P2)
        if not self.mgmt_authed:
            raise CardError(SW_SECURITY)
        items = parse_tlvs(a.data)
        t = dict(items)
        if 0x5C not in t or 0x53 not in t:
            raise CardError(SW_WRONG_DATA)
        tag = self._object_tag(t[0x5C])
        if tag == 0x7E:
            raise CardError(SW_SECURITY)
        if len(t[0x53]) > 3063 and tag not in (0x5FC108, 0x5FC121):
            # SP 800-73-4 part 1 appendix A: the largest certificate container is 1,858 bytes;
            # a YubiKey 5 takes up to 3,063 bytes in one object.
            raise CardError(SW_NO_SPACE)
        key = "%06x" % tag
        if t[0x53]:
            self.st["objects"][key] = t[0x53].hex()
        else:
            self.st["objects"].pop(key, None)
        self.save()
        self.last_put = tag

    # -- VERIFY / CHANGE REFERENCE DATA / RESET RETRY COUNTER (3.2.1, 3.2.2, 3.2.3) --

    @staticmethod
    def _pin_value(block):
        if len(block) != 8:
            raise CardError(SW_WRONG_DATA)
        value = block.rstrip(b"\xff")
        if b"\xff" in value:
            raise CardError(SW_WRONG_DATA)
        return value

    def _check_secret(self, which, value):
        s = self.st[which]
        if s["left"] == 0:
            raise CardError(SW_BLOCKED)
        ok = self._matches(s, value) or (which == "pin" and "accept-any-pin" in self.faults)
        if not ok:
            s["left"] -= 1
            self.save()
            if which == "pin":
                self.pin_verified = self.pin_fresh = False
            raise CardError(0x63C0 | s["left"])
        if s["left"] != s["max"]:
            s["left"] = s["max"]
            self.save()

    def cmd_verify(self, a):
        if a.p1 == 0xFF and not a.data:  # reset the security status of the PIN (800-73-4 3.2.1)
            self.pin_verified = self.pin_fresh = False
            return
        if a.p1 != 0x00 or a.p2 != PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        if not a.data:  # status query: 9000 when verified, else 63Cx
            if self.pin_verified:
                return
            if self.st["pin"]["left"] == 0:
                raise CardError(SW_BLOCKED)
            raise CardError(0x63C0 | self.st["pin"]["left"])
        value = self._pin_value(a.data)
        self._check_secret("pin", value)
        self.pin_verified = self.pin_fresh = True

    def _set_secret(self, which, value, min_len):
        if not min_len <= len(value) <= 8:
            raise CardError(SW_WRONG_DATA)
        self.st[which] = self._secret(value, self.st[which]["max"])

    def cmd_change_reference(self, a):
        if a.p1 != 0x00 or a.p2 not in (PIN_REF, PUK_REF):
            raise CardError(SW_REF_NOT_FOUND)
        if len(a.data) != 16:
            raise CardError(SW_WRONG_DATA)
        which = "pin" if a.p2 == PIN_REF else "puk"
        old, new = self._pin_value(a.data[:8]), self._pin_value(a.data[8:])
        self._check_secret(which, old)
        self._set_secret(which, new, 6)
        self.save()
        if which == "pin":
            self.pin_verified = self.pin_fresh = True

    def cmd_reset_retry(self, a):
        if a.p1 != 0x00 or a.p2 != PIN_REF:
            raise CardError(SW_REF_NOT_FOUND)
        if len(a.data) != 16:
            raise CardError(SW_WRONG_DATA)
        puk, new = self._pin_value(a.data[:8]), self._pin_value(a.data[8:])
        self._check_secret("puk", puk)
        self._set_secret("pin", new, 6)
        self.save()

    # -- GENERAL AUTHENTICATE (3.2.4; SP 800-73-4 part 2 appendix A.1-A.3) --

    def cmd_general_authenticate(self, a):
        t = parse_tlvs(a.data)
        if len(t) != 1 or t[0][0] != 0x7C:
            raise CardError(SW_WRONG_DATA)
        items = parse_tlvs(t[0][1])
        d = dict(items)
        if a.p2 == MGMT_REF:
            return self._mgmt_auth(a.p1, d)
        if a.p2 not in ASYM_SLOTS:
            raise CardError(SW_REF_NOT_FOUND)
        key, meta = self._key(a.p2)
        if key is None:
            raise CardError(SW_REF_NOT_FOUND)
        if a.p1 != meta["alg"]:
            raise CardError(SW_INCORRECT_P1P2)
        self._check_pin_policy(meta)
        started = time.monotonic()
        if 0x81 in d and 0x82 in d and not d[0x82]:  # sign / decrypt the challenge
            if meta["alg"] in EC_CURVES:
                out = ecdsa_raw(key, meta["alg"], d[0x81])
            else:
                out = raw_rsa(key, d[0x81])
        elif 0x85 in d and 0x82 in d and not d[0x82] and meta["alg"] in EC_CURVES:  # ECDH
            try:
                peer = ec.EllipticCurvePublicKey.from_encoded_point(EC_CURVES[meta["alg"]](), d[0x85])
            except ValueError:
                raise CardError(SW_WRONG_DATA)
            out = key.exchange(ec.ECDH(), peer)
        else:
            raise CardError(SW_WRONG_DATA)
        self.wait("sign-" + ALG_NAME[meta["alg"]], started)
        return tlv(0x7C, tlv(0x82, out))

    def _check_pin_policy(self, meta):
        policy = meta.get("pin_policy", PIN_ONCE)
        if policy == PIN_NEVER:
            return
        if not self.pin_verified:
            raise CardError(SW_SECURITY)
        if policy == PIN_ALWAYS:
            if not self.pin_fresh:
                raise CardError(SW_SECURITY)
            self.pin_fresh = False

    def _mgmt_auth(self, alg, d):
        m = self.st["mgmt"]
        if alg != m["alg"]:
            raise CardError(SW_INCORRECT_P1P2)
        key = bytes.fromhex(m["key"])
        _, block = sym_cipher(alg, key)
        self.wait("auth")
        if 0x80 in d and not d[0x80] and len(d) == 1:
            # Step 1 of mutual authentication: the card sends an encrypted witness.
            self.mgmt_authed = False
            self.witness = secrets.token_bytes(block)
            return tlv(0x7C, tlv(0x80, sym_encrypt(alg, key, self.witness)))
        if 0x80 in d and 0x81 in d:
            # Step 2: the host proves the decrypted witness and sends its own challenge.
            witness, self.witness = self.witness, None
            if witness is None or len(d[0x80]) != block or len(d[0x81]) != block:
                raise CardError(SW_WRONG_DATA if witness else SW_CONDITIONS)
            if not hmac.compare_digest(witness, d[0x80]):
                raise CardError(SW_SECURITY)
            self.mgmt_authed = True
            return tlv(0x7C, tlv(0x82, sym_encrypt(alg, key, d[0x81])))
        if 0x81 in d and not d[0x81] and len(d) == 1:
            # External authentication, step 1: a challenge for the host to encrypt.
            self.mgmt_authed = False
            self.challenge = secrets.token_bytes(block)
            return tlv(0x7C, tlv(0x81, self.challenge))
        if 0x82 in d and len(d) == 1:
            challenge, self.challenge = self.challenge, None
            if challenge is None:
                raise CardError(SW_CONDITIONS)
            if len(d[0x82]) != block:
                raise CardError(SW_WRONG_DATA)
            if not hmac.compare_digest(sym_encrypt(alg, key, challenge), d[0x82]):
                raise CardError(SW_SECURITY)
            self.mgmt_authed = True
            return None
        raise CardError(SW_WRONG_DATA)

    # -- GENERATE ASYMMETRIC KEY PAIR (3.3.2) --

    def _policies(self, d, slot):
        pin = d.get(0xAA, bytes([DEFAULT_PIN_POLICY.get(slot, PIN_ONCE)]))
        touch = d.get(0xAB, b"\x01")
        if len(pin) != 1 or len(touch) != 1:
            raise CardError(SW_WRONG_DATA)
        pin_policy = pin[0] or DEFAULT_PIN_POLICY.get(slot, PIN_ONCE)  # 0: the slot's default
        if pin_policy not in (PIN_NEVER, PIN_ONCE, PIN_ALWAYS):
            raise CardError(SW_WRONG_DATA)
        return pin_policy, touch[0] or 1

    def cmd_generate(self, a):
        if not self.mgmt_authed:
            raise CardError(SW_SECURITY)
        if a.p1 != 0x00 or a.p2 not in ASYM_SLOTS or a.p2 == 0xF9:
            raise CardError(SW_INCORRECT_P1P2)
        t = tlv_dict(a.data)
        if 0xAC not in t:
            raise CardError(SW_WRONG_DATA)
        c = tlv_dict(t[0xAC])
        alg = c.get(0x80, b"")
        if len(alg) != 1 or alg[0] not in ALG_NAME:
            raise CardError(SW_WRONG_DATA)
        alg = alg[0]
        pin_policy, touch_policy = self._policies(c, a.p2)
        started = time.monotonic()
        key = generate_key(alg)
        self.wait("gen-" + ALG_NAME[alg], started)
        self._store_key(a.p2, key, alg, pin_policy, touch_policy, "generated")
        shown = key.public_key()
        if "wrong-pubkey" in self.faults:
            shown = generate_key(alg).public_key()
            self.log("fault wrong-pubkey: GENERATE answers another key's public key")
        return public_key_template(alg, shown)

    def _store_key(self, slot, key, alg, pin_policy, touch_policy, origin):
        k = "%02x" % slot
        self.st["keys"][k] = {
            "alg": alg,
            "pem": key_to_pem(key),
            "pin_policy": pin_policy,
            "touch_policy": touch_policy,
            "origin": origin,
        }
        self._keys[k] = key
        self.save()

    # -- Yubico extensions (developers.yubico.com/PIV/Introduction/Yubico_extensions.html) --

    def cmd_get_version(self, a):
        return bytes(self.version)

    def cmd_get_serial(self, a):
        return int(self.st["serial"]).to_bytes(4, "big")

    def cmd_set_mgmt_key(self, a):
        if not self.mgmt_authed:
            raise CardError(SW_SECURITY)
        if a.p1 != 0xFF or a.p2 not in (0xFF, 0xFE):
            raise CardError(SW_INCORRECT_P1P2)
        if len(a.data) < 3 or a.data[1] != MGMT_REF:
            raise CardError(SW_WRONG_DATA)
        alg, n, key = a.data[0], a.data[2], a.data[3:]
        if alg not in SYM_KEY_LEN or len(key) != n or n != SYM_KEY_LEN[alg]:
            raise CardError(SW_WRONG_DATA)
        if alg != ALG_3DES and self.version < (5, 4, 0):
            raise CardError(SW_WRONG_DATA)
        self.st["mgmt"] = {"alg": alg, "key": key.hex(), "touch": int(a.p2 == 0xFE)}
        self.save()

    def cmd_import_key(self, a):
        if not self.mgmt_authed:
            raise CardError(SW_SECURITY)
        alg, slot = a.p1, a.p2
        if slot not in ASYM_SLOTS or slot == 0xF9:
            raise CardError(SW_INCORRECT_P1P2)
        t = tlv_dict(a.data)
        started = time.monotonic()
        try:
            if alg in EC_CURVES:
                d = t.get(0x06, b"")
                if len(d) != EC_SIZE[alg]:
                    raise CardError(SW_WRONG_DATA)
                key = ec.derive_private_key(int.from_bytes(d, "big"), EC_CURVES[alg]())
            elif alg in RSA_BITS:
                p, q, dp, dq, qi = (int.from_bytes(t[i], "big") for i in (1, 2, 3, 4, 5))
                e = 65537
                n = p * q
                if n.bit_length() != RSA_BITS[alg]:
                    raise CardError(SW_WRONG_DATA)
                phi = (p - 1) * (q - 1)
                dpriv = pow(e, -1, phi)
                key = rsa.RSAPrivateNumbers(
                    p, q, dpriv, dp, dq, qi, rsa.RSAPublicNumbers(e, n)
                ).private_key()
            else:
                raise CardError(SW_INCORRECT_P1P2)
        except (KeyError, ValueError):
            raise CardError(SW_WRONG_DATA)
        pin_policy, touch_policy = self._policies(t, slot)
        self.wait("import", started)
        self._store_key(slot, key, alg, pin_policy, touch_policy, "imported")

    def cmd_attest(self, a):
        if a.p1 not in ASYM_SLOTS or a.p1 == 0xF9 or a.p2 != 0:
            raise CardError(SW_INCORRECT_P1P2)
        key, meta = self._key(a.p1)
        if key is None:
            raise CardError(SW_REF_NOT_FOUND)
        if meta["origin"] != "generated":
            raise CardError(SW_WRONG_DATA)  # only keys made on the card are attested
        started = time.monotonic()
        f9_key, _ = self._key(0xF9)
        f9_cert = x509.load_der_x509_certificate(
            dict(parse_tlvs(bytes.fromhex(self.st["objects"]["%06x" % ATTESTATION_OBJECT])))[0x70]
        )
        subject_key = key.public_key()
        signer = f9_key
        fault = self.faults.get("bad-attestation")
        if fault == "pubkey":
            subject_key = generate_key(meta["alg"]).public_key()
        elif fault:
            signer = ec.generate_private_key(ec.SECP256R1())
        if fault:
            self.log(f"fault bad-attestation={fault}")
        v = self.version
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vpiv PIV Attestation %02x" % a.p1)])
            )
            .issuer_name(f9_cert.subject)
            .public_key(subject_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(_cert_time(f9_cert, "not_valid_before"))
            .not_valid_after(_cert_time(f9_cert, "not_valid_after"))
            .add_extension(x509.UnrecognizedExtension(OID_YK_FIRMWARE, bytes(v)), False)
            .add_extension(
                x509.UnrecognizedExtension(
                    OID_YK_SERIAL, _der_integer(int(self.st["serial"]))
                ),
                False,
            )
            .add_extension(
                x509.UnrecognizedExtension(
                    OID_YK_POLICY, bytes([meta["pin_policy"], meta["touch_policy"]])
                ),
                False,
            )
            .add_extension(x509.UnrecognizedExtension(OID_YK_FORMFACTOR, b"\x01"), False)
            .sign(signer, hashes.SHA256())
        )
        self.wait("attest", started)
        return cert.public_bytes(serialization.Encoding.DER)

    def cmd_set_pin_retries(self, a):
        if "no-set-retries" in self.faults:
            self.log("fault no-set-retries: 6D00")
            raise CardError(SW_INS_NOT_SUPPORTED)
        if not self.mgmt_authed or not self.pin_verified:
            raise CardError(SW_SECURITY)
        if not (1 <= a.p1 <= 255 and 1 <= a.p2 <= 255):
            raise CardError(SW_INCORRECT_P1P2)
        # As on a YubiKey, new retry counters reset PIN and PUK to their factory values.
        self.st["pin"] = self._secret(DEFAULT_PIN, a.p1, default=True)
        self.st["puk"] = self._secret(DEFAULT_PUK, a.p2, default=True)
        self.pin_verified = self.pin_fresh = False
        self.save()

    def cmd_reset(self, a):
        if self.st["pin"]["left"] != 0 or self.st["puk"]["left"] != 0:
            raise CardError(SW_CONDITIONS)
        self._reset_app(self.st)
        self._keys = {}
        self.save()
        self.power_reset()

    def cmd_get_metadata(self, a):
        if self.version < (5, 3, 0):
            raise CardError(SW_INS_NOT_SUPPORTED)
        slot = a.p2
        if slot in (PIN_REF, PUK_REF):
            s = self.st["pin" if slot == PIN_REF else "puk"]
            return (
                tlv(0x01, b"\xff")
                + tlv(0x05, bytes([int(s["default"])]))
                + tlv(0x06, bytes([s["max"], s["left"]]))
            )
        if slot == MGMT_REF:
            m = self.st["mgmt"]
            return (
                tlv(0x01, bytes([m["alg"]]))
                + tlv(0x02, bytes([0, 2 if m["touch"] else 1]))
                + tlv(0x05, bytes([int(bytes.fromhex(m["key"]) == DEFAULT_MGMT)]))
            )
        key, meta = self._key(slot)
        if key is None:
            raise CardError(SW_REF_NOT_FOUND)
        origin = {"generated": 1, "imported": 2}.get(meta["origin"], 1)
        pub = parse_tlvs(public_key_template(meta["alg"], key.public_key()))[0][1]
        return (
            tlv(0x01, bytes([meta["alg"]]))
            + tlv(0x02, bytes([meta["pin_policy"], meta["touch_policy"]]))
            + tlv(0x03, bytes([origin]))
            + tlv(0x04, pub)
        )

    HANDLERS = {
        0xA4: cmd_select,
        0xCB: cmd_get_data,
        0xDB: cmd_put_data,
        0x20: cmd_verify,
        0x24: cmd_change_reference,
        0x2C: cmd_reset_retry,
        0x87: cmd_general_authenticate,
        0x47: cmd_generate,
        0xFD: cmd_get_version,
        0xF8: cmd_get_serial,
        0xFF: cmd_set_mgmt_key,
        0xFE: cmd_import_key,
        0xF9: cmd_attest,
        0xFA: cmd_set_pin_retries,
        0xFB: cmd_reset,
        0xF7: cmd_get_metadata,
    }


def _der_integer(n):
    body = n.to_bytes(n.bit_length() // 8 + 1, "big")
    return b"\x02" + tlv_len(len(body)) + body


def _cert_time(cert, name):
    """Validity bound as an aware datetime (cryptography >= 42 has the *_utc properties)."""
    t = getattr(cert, name + "_utc", None)
    return t if t is not None else getattr(cert, name).replace(tzinfo=datetime.timezone.utc)
