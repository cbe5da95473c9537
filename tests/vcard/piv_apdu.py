"""A host side of the PIV commands, written from SP 800-73-4 for the vpiv tests (not the
product's: that lives in kgs/). `transmit(apdu) -> (data, sw)` is a pcsc.Card's or a
PivCard's, so the same checks run through pcscd and directly against the card object."""

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:
    TripleDES = algorithms.TripleDES

DEFAULT_MGMT = bytes.fromhex("010203040506070801020304050607080102030405060708")
SELECT_PIV = bytes.fromhex("00A4040005A000000308")


class SwError(Exception):
    def __init__(self, what, sw):
        super().__init__(f"{what}: SW {sw:04X}")
        self.sw = sw


def tlv(tag, value):
    tb = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82, n >> 8, n & 0xFF])
    return tb + ln + value


def first_value(data, tag):
    """Value of the first top-level TLV `tag` in data (one-byte or two-byte tags)."""
    i = 0
    while i < len(data):
        t = data[i]
        i += 1
        if t & 0x1F == 0x1F:
            t = (t << 8) | data[i]
            i += 1
        n = data[i]
        i += 1
        if n & 0x80:
            k = n & 0x7F
            n = int.from_bytes(data[i : i + k], "big")
            i += k
        if t == tag:
            return data[i : i + n]
        i += n
    raise KeyError(hex(tag))


def apdu(cla, ins, p1, p2, data=b"", le=None):
    out = bytes([cla, ins, p1, p2])
    if data:
        out += bytes([len(data)]) + data
    if le is not None:
        out += bytes([le & 0xFF])
    return out


def send(transmit, cla, ins, p1, p2, data=b"", le=None, chunk=255):
    """Command chaining for long data (CLA 0x10), then the 61xx GET RESPONSE loop."""
    while len(data) > chunk:
        _, sw = transmit(apdu(cla | 0x10, ins, p1, p2, data[:chunk]))
        if sw != 0x9000:
            return b"", sw
        data = data[chunk:]
    resp, sw = transmit(apdu(cla, ins, p1, p2, data, le))
    for _ in range(256):
        if sw >> 8 != 0x61:
            break
        more, sw = transmit(apdu(0, 0xC0, 0, 0, le=sw & 0xFF))
        resp += more
    return resp, sw


def ok(transmit, *args, what="command", **kw):
    data, sw = send(transmit, *args, **kw)
    if sw != 0x9000:
        raise SwError(what, sw)
    return data


def block_cipher(alg, key):
    if alg == 0x03:
        return Cipher(TripleDES(key), modes.ECB()), 8
    return Cipher(algorithms.AES(key), modes.ECB()), 16


def mgmt_auth(transmit, alg=0x03, key=DEFAULT_MGMT):
    """Mutual authentication with the management key (SP 800-73-4 part 2 appendix A.2)."""
    cipher, block = block_cipher(alg, key)
    r = ok(transmit, 0, 0x87, alg, 0x9B, tlv(0x7C, tlv(0x80, b"")), what="witness")
    witness = first_value(first_value(r, 0x7C), 0x80)
    d = cipher.decryptor()
    plain = d.update(witness) + d.finalize()
    challenge = os.urandom(block)
    r = ok(transmit, 0, 0x87, alg, 0x9B, tlv(0x7C, tlv(0x80, plain) + tlv(0x81, challenge)), what="auth")
    e = cipher.encryptor()
    expected = e.update(challenge) + e.finalize()
    if first_value(first_value(r, 0x7C), 0x82) != expected:
        raise AssertionError("the card's answer to our challenge is wrong")


def set_mgmt_key(transmit, alg, key):
    ok(transmit, 0, 0xFF, 0xFF, 0xFF, bytes([alg, 0x9B, len(key)]) + key, what="SET MANAGEMENT KEY")


def pin_block(pin):
    return pin.encode().ljust(8, b"\xff")
