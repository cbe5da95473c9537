#!/usr/bin/python3
"""Unit tests of the virtual PIV card (tools/vpiv/piv_card.py) without pcscd: APDUs straight
into PivCard.process. The pcscd-level tests with other people's tools are vcard_test.py."""

import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "vpiv"))
sys.path.insert(0, HERE)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils  # noqa: E402

import piv_apdu as P  # noqa: E402
import piv_card  # noqa: E402


def ec_point(alg, data):
    curve = piv_card.EC_CURVES[alg]()
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, P.first_value(data, 0x86))


def signed_by(cert, issuer):
    """The issuer's key verifies cert's signature (every vpiv CA key is ECDSA). cryptography
    38 (Debian 12) has no Certificate.verify_directly_issued_by."""
    if cert.issuer != issuer.subject:
        raise ValueError("issuer name differs")
    issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


class CardTest(unittest.TestCase):
    version = "5.4.3"

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.card = piv_card.PivCard(
            os.path.join(self.dir.name, "card.json"), os.path.join(self.dir.name, "ca"), version=self.version
        )
        self.t = self.card.process
        P.ok(self.t, 0, 0xA4, 4, 0, bytes.fromhex("A000000308"), what="SELECT")

    def tearDown(self):
        self.dir.cleanup()

    def sw(self, *args, **kw):
        return P.send(self.t, *args, **kw)[1]

    def verify(self, pin="123456"):
        return self.sw(0, 0x20, 0, 0x80, P.pin_block(pin))

    def generate(self, slot, alg, **kw):
        return P.ok(self.t, 0, 0x47, 0, slot, P.tlv(0xAC, P.tlv(0x80, bytes([alg]))), what="GENERATE", **kw)

    def sign(self, slot, alg, data):
        r = P.ok(self.t, 0, 0x87, alg, slot, P.tlv(0x7C, P.tlv(0x82, b"") + P.tlv(0x81, data)), what="SIGN")
        return P.first_value(P.first_value(r, 0x7C), 0x82)


class ManagementKey(CardTest):
    def test_factory_key_is_3des_below_5_7(self):
        P.mgmt_auth(self.t, 0x03)

    def test_every_algorithm_authenticates_after_set_management_key(self):
        current = (0x03, P.DEFAULT_MGMT)
        for alg, n in ((0x08, 16), (0x0A, 24), (0x0C, 32), (0x03, 24)):
            P.mgmt_auth(self.t, *current)
            key = os.urandom(n)
            P.set_mgmt_key(self.t, alg, key)
            current = (alg, key)
            with self.assertRaises(P.SwError):  # the old key no longer works
                P.mgmt_auth(self.t, 0x03, P.DEFAULT_MGMT) if alg != 0x03 else P.mgmt_auth(self.t, 0x08, bytes(16))
        P.mgmt_auth(self.t, *current)

    def test_wrong_witness_is_refused(self):
        self.sw(0, 0x87, 0x03, 0x9B, P.tlv(0x7C, P.tlv(0x80, b"")))
        sw = self.sw(0, 0x87, 0x03, 0x9B, P.tlv(0x7C, P.tlv(0x80, bytes(8)) + P.tlv(0x81, bytes(8))))
        self.assertEqual(sw, 0x6982)
        self.assertEqual(self.sw(0, 0x47, 0, 0x9A, P.tlv(0xAC, P.tlv(0x80, b"\x11"))), 0x6982)

    def test_wrong_algorithm_is_incorrect_p1(self):
        self.assertEqual(self.sw(0, 0x87, 0x08, 0x9B, P.tlv(0x7C, P.tlv(0x80, b""))), 0x6A86)

    def test_external_authentication(self):
        r = P.ok(self.t, 0, 0x87, 0x03, 0x9B, P.tlv(0x7C, P.tlv(0x81, b"")))
        challenge = P.first_value(P.first_value(r, 0x7C), 0x81)
        c, _ = P.block_cipher(0x03, P.DEFAULT_MGMT)
        e = c.encryptor()
        P.ok(self.t, 0, 0x87, 0x03, 0x9B, P.tlv(0x7C, P.tlv(0x82, e.update(challenge) + e.finalize())))
        self.generate(0x9E, 0x11)


class ManagementKeyNewFirmware(CardTest):
    version = "5.7.1"

    def test_factory_key_is_aes192_from_5_7(self):
        P.mgmt_auth(self.t, 0x0A)
        meta = P.ok(self.t, 0, 0xF7, 0, 0x9B)
        self.assertEqual(P.first_value(meta, 0x01), b"\x0a")
        self.assertEqual(P.first_value(meta, 0x05), b"\x01")  # still the default value


class FactoryResetToNewFirmware(CardTest):
    def test_factory_reset_with_a_version_switches_the_management_key_algorithm(self):
        serial = self.card.st["serial"]
        self.card.factory_reset("5.7.1")
        P.ok(self.t, 0, 0xA4, 4, 0, bytes.fromhex("A000000308"))
        P.mgmt_auth(self.t, 0x0A)
        self.assertEqual(self.card.st["serial"], serial)
        self.assertEqual(P.ok(self.t, 0, 0xFD, 0, 0), bytes([5, 7, 1]))


class Pin(CardTest):
    def test_wrong_pin_lowers_the_counter_and_blocks(self):
        self.assertEqual(self.sw(0, 0x20, 0, 0x80), 0x63C3)
        self.assertEqual(self.verify("000000"), 0x63C2)
        self.assertEqual(self.verify("000000"), 0x63C1)
        self.assertEqual(self.verify("123456"), 0x9000)  # a right PIN restores the counter
        self.assertEqual(self.sw(0, 0x20, 0, 0x80), 0x9000)
        for left in (2, 1, 0):
            self.assertEqual(self.verify("000000"), 0x63C0 | left)
        self.assertEqual(self.verify("123456"), 0x6983)

    def test_puk_unblocks_and_sets_a_new_pin(self):
        for _ in range(3):
            self.verify("000000")
        self.assertEqual(self.sw(0, 0x2C, 0, 0x80, P.pin_block("00000000") + P.pin_block("654321")), 0x63C2)
        self.assertEqual(self.sw(0, 0x2C, 0, 0x80, P.pin_block("12345678") + P.pin_block("654321")), 0x9000)
        self.assertEqual(self.verify("654321"), 0x9000)

    def test_change_reference_data(self):
        self.assertEqual(P.first_value(P.ok(self.t, 0, 0xF7, 0, 0x80), 0x05), b"\x01")  # default PIN
        self.assertEqual(self.sw(0, 0x24, 0, 0x80, P.pin_block("123456") + P.pin_block("11112222")), 0x9000)
        self.assertEqual(P.first_value(P.ok(self.t, 0, 0xF7, 0, 0x80), 0x05), b"\x00")
        self.assertEqual(P.first_value(P.ok(self.t, 0, 0xF7, 0, 0x80), 0x06), b"\x03\x03")
        self.assertEqual(self.verify("123456"), 0x63C2)
        self.assertEqual(self.verify("11112222"), 0x9000)
        self.assertEqual(self.sw(0, 0x24, 0, 0x81, P.pin_block("12345678") + P.pin_block("87654321")), 0x9000)
        self.assertEqual(self.sw(0, 0x24, 0, 0x80, P.pin_block("11112222") + P.pin_block("123")), 0x6A80)

    def test_reset_only_when_pin_and_puk_are_blocked(self):
        self.assertEqual(self.sw(0, 0xFB, 0, 0), 0x6985)
        for _ in range(3):
            self.verify("000000")
            self.sw(0, 0x24, 0, 0x81, P.pin_block("00000000") + P.pin_block("00000000"))
        self.assertEqual(self.sw(0, 0xFB, 0, 0), 0x9000)
        self.assertEqual(self.verify("123456"), 0x9000)
        P.mgmt_auth(self.t)

    def test_set_pin_retries_needs_pin_and_management_key(self):
        self.assertEqual(self.sw(0, 0xFA, 5, 6), 0x6982)
        P.mgmt_auth(self.t)
        self.verify()
        self.assertEqual(self.sw(0, 0xFA, 5, 6), 0x9000)
        self.assertEqual(self.sw(0, 0x20, 0, 0x80), 0x63C5)

    def test_accept_any_pin_fault(self):
        self.card.faults["accept-any-pin"] = "1"
        self.assertEqual(self.verify("999999"), 0x9000)


class Objects(CardTest):
    def test_put_data_needs_the_management_key(self):
        data = P.tlv(0x5C, bytes.fromhex("5FC102")) + P.tlv(0x53, b"x")
        self.assertEqual(self.sw(0, 0xDB, 0x3F, 0xFF, data), 0x6982)

    def test_chained_put_and_61xx_get(self):
        P.mgmt_auth(self.t)
        body = os.urandom(2000)
        P.ok(self.t, 0, 0xDB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC105")) + P.tlv(0x53, body), chunk=200)
        first, sw = self.t(P.apdu(0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC105")), le=0))
        self.assertEqual(sw >> 8, 0x61)
        self.assertEqual(len(first), 256)
        got = P.ok(self.t, 0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC105")), le=0)
        self.assertEqual(P.first_value(got, 0x53), body)

    def test_extended_length_get_data_answers_in_one(self):
        P.mgmt_auth(self.t)
        body = os.urandom(1500)
        P.ok(self.t, 0, 0xDB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC10A")) + P.tlv(0x53, body))
        q = P.tlv(0x5C, bytes.fromhex("5FC10A"))
        data, sw = self.t(bytes([0, 0xCB, 0x3F, 0xFF, 0, 0, len(q)]) + q + b"\x00\x00")
        self.assertEqual(sw, 0x9000)
        self.assertEqual(P.first_value(data, 0x53), body)

    def test_max_response_fault_chains_every_answer(self):
        self.card.faults["max-response"] = "2"
        first, sw = self.t(bytes.fromhex("00FD000000"))
        self.assertEqual((first, sw), (bytes([5, 4]), 0x6101))
        self.assertEqual(self.t(bytes.fromhex("00C0000000")), (bytes([3]), 0x9000))
        self.assertEqual(P.ok(self.t, 0, 0xF8, 0, 0, le=0), self.card.st["serial"].to_bytes(4, "big"))

    def test_le_6c_fault_names_the_exact_length(self):
        self.card.faults["le-6c"] = "1"
        self.assertEqual(self.t(bytes.fromhex("00FD000000")), (b"", 0x6C03))
        self.assertEqual(self.t(bytes.fromhex("00FD000003")), (bytes([5, 4, 3]), 0x9000))
        self.assertEqual(self.t(bytes.fromhex("00FD0000")), (bytes([5, 4, 3]), 0x9000))  # no Le

    def test_missing_object_and_discovery(self):
        self.assertEqual(self.sw(0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC102"))), 0x6A82)
        d = P.ok(self.t, 0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, b"\x7e"))
        self.assertEqual(P.first_value(P.first_value(d, 0x7E), 0x4F)[:5], bytes.fromhex("A000000308"))

    def test_printed_information_needs_the_pin(self):
        P.mgmt_auth(self.t)
        P.ok(self.t, 0, 0xDB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC109")) + P.tlv(0x53, b"secret"))
        self.assertEqual(self.sw(0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC109"))), 0x6982)
        self.verify()
        self.assertEqual(self.sw(0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FC109"))), 0x9000)

    def test_malformed_input(self):
        self.assertEqual(self.sw(0, 0xCB, 0x3F, 0xFF, bytes.fromhex("5C05 5FC1")), 0x6A80)  # truncated
        self.assertEqual(self.t(bytes.fromhex("00CB3FFF055C"))[1], 0x6700)  # Lc beyond the data
        self.assertEqual(self.t(bytes.fromhex("00"))[1], 0x6700)
        self.assertEqual(self.t(bytes.fromhex("80CB3FFF"))[1], 0x6E00)
        self.assertEqual(self.t(bytes.fromhex("0012000000"))[1], 0x6D00)


class Keys(CardTest):
    def test_generate_and_sign_with_every_algorithm(self):
        P.mgmt_auth(self.t)
        self.verify()
        digest = os.urandom(32)
        for slot, alg in ((0x9A, 0x11), (0x9D, 0x14)):
            pub = ec_point(alg, P.first_value(self.generate(slot, alg), 0x7F49))
            sig = self.sign(slot, alg, digest)
            h = hashes.SHA256() if alg == 0x11 else hashes.SHA384()
            size = 32 if alg == 0x11 else 48
            pub.verify(sig, digest.rjust(size, b"\0")[:size], ec.ECDSA(utils.Prehashed(h)))
        t = P.first_value(self.generate(0x9E, 0x07), 0x7F49)
        n = int.from_bytes(P.first_value(t, 0x81), "big")
        e = int.from_bytes(P.first_value(t, 0x82), "big")
        pub = rsa.RSAPublicNumbers(e, n).public_key()
        msg = b"vpiv"
        # PKCS #1 v1.5 padding done by the host, as for a real card (SP 800-73-4 part 2 A.4)
        h = hashes.Hash(hashes.SHA256())
        h.update(msg)
        di = bytes.fromhex("3031300d060960864801650304020105000420") + h.finalize()
        block = b"\x00\x01" + b"\xff" * (256 - 3 - len(di)) + b"\x00" + di
        pub.verify(self.sign(0x9E, 0x07, block), msg, padding.PKCS1v15(), hashes.SHA256())

    def test_pin_policy(self):
        P.mgmt_auth(self.t)
        self.generate(0x9A, 0x11)
        self.generate(0x9C, 0x11)
        self.assertEqual(self.sw(0, 0x87, 0x11, 0x9A, P.tlv(0x7C, P.tlv(0x82, b"") + P.tlv(0x81, bytes(32)))), 0x6982)
        self.verify()
        self.sign(0x9A, 0x11, bytes(32))
        self.sign(0x9A, 0x11, bytes(32))  # PIN once
        self.sign(0x9C, 0x11, bytes(32))
        # 9C is PIN-always (SP 800-73-4 part 1 section 3.1.2): the next use needs a VERIFY again
        self.assertEqual(self.sw(0, 0x87, 0x11, 0x9C, P.tlv(0x7C, P.tlv(0x82, b"") + P.tlv(0x81, bytes(32)))), 0x6982)

    def test_wrong_pubkey_fault(self):
        P.mgmt_auth(self.t)
        self.card.faults["wrong-pubkey"] = "1"
        shown = ec_point(0x11, P.first_value(self.generate(0x9A, 0x11), 0x7F49))
        meta = P.ok(self.t, 0, 0xF7, 0, 0x9A)
        real = ec_point(0x11, P.first_value(meta, 0x04))
        self.assertNotEqual(shown.public_numbers(), real.public_numbers())

    def test_import_and_metadata(self):
        P.mgmt_auth(self.t)
        k = ec.generate_private_key(ec.SECP256R1())
        d = k.private_numbers().private_value.to_bytes(32, "big")
        P.ok(self.t, 0, 0xFE, 0x11, 0x9D, P.tlv(0x06, d))
        meta = P.ok(self.t, 0, 0xF7, 0, 0x9D)
        self.assertEqual(P.first_value(meta, 0x03), b"\x02")  # imported
        self.assertEqual(ec_point(0x11, P.first_value(meta, 0x04)).public_numbers(), k.public_key().public_numbers())
        self.assertEqual(self.sw(0, 0xF9, 0x9D, 0), 0x6A80)  # imported keys are not attested


class Attestation(CardTest):
    def chain(self):
        ca = x509.load_pem_x509_certificate(read(os.path.join(self.dir.name, "ca", "ca.pem"), "rb"))
        obj = P.ok(self.t, 0, 0xCB, 0x3F, 0xFF, P.tlv(0x5C, bytes.fromhex("5FFF01")))
        f9 = x509.load_der_x509_certificate(P.first_value(P.first_value(obj, 0x53), 0x70))
        return ca, f9

    def test_attestation_chains_to_the_root_and_names_the_key(self):
        P.mgmt_auth(self.t)
        pub = ec_point(0x11, P.first_value(self.generate(0x9A, 0x11), 0x7F49))
        att = x509.load_der_x509_certificate(P.ok(self.t, 0, 0xF9, 0x9A, 0))
        ca, f9 = self.chain()
        signed_by(f9, ca)
        signed_by(att, f9)
        self.assertEqual(att.public_key().public_numbers(), pub.public_numbers())
        serial = att.extensions.get_extension_for_oid(piv_card.OID_YK_SERIAL).value.value
        self.assertEqual(serial, piv_card._der_integer(self.card.st["serial"]))

    def test_bad_attestation_faults(self):
        P.mgmt_auth(self.t)
        pub = ec_point(0x11, P.first_value(self.generate(0x9A, 0x11), 0x7F49))
        ca, f9 = self.chain()
        self.card.faults["bad-attestation"] = "signature"
        att = x509.load_der_x509_certificate(P.ok(self.t, 0, 0xF9, 0x9A, 0))
        with self.assertRaises(Exception):
            signed_by(att, f9)
        self.card.faults["bad-attestation"] = "pubkey"
        att = x509.load_der_x509_certificate(P.ok(self.t, 0, 0xF9, 0x9A, 0))
        signed_by(att, f9)
        self.assertNotEqual(att.public_key().public_numbers(), pub.public_numbers())


class Robustness(CardTest):
    def test_random_commands_always_get_a_status_word(self):
        """Structured random input (nested TLVs of the tags the commands read, random lengths,
        slots and algorithms): every command is answered with a status word, nothing raises."""
        import random

        rnd = random.Random(7)
        tags = [0x7C, 0x80, 0x81, 0x82, 0x85, 0xAC, 0xAA, 0xAB, 0x5C, 0x53, 1, 2, 3, 4, 5, 6, 0x7F49]

        def rtlv(depth=0):
            tag = rnd.choice(tags)
            if depth < 2 and tag in (0x7C, 0xAC) and rnd.random() < 0.7:
                value = b"".join(rtlv(depth + 1) for _ in range(rnd.randrange(4)))
            else:
                value = bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 1, 2, 3, 8, 16, 24, 32, 48, 65, 97])))
            return P.tlv(tag, value)

        for _ in range(1500):
            if rnd.random() < 0.1:
                P.mgmt_auth(self.t)
                self.verify()
            ins = rnd.choice([0x87, 0x47, 0xFE, 0xDB, 0xCB, 0xF9, 0xF7, 0xFF, 0x24, 0x2C, 0x20, 0xA4])
            data = b"".join(rtlv() for _ in range(rnd.randrange(1, 3)))
            p1 = rnd.choice([0, 3, 7, 0x11, 0x14, 8, 0xA, 0xC, 0x3F, 0xFF, 0x9A])
            p2 = rnd.choice([0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0xFF, 0x80, 0x81, 0xF9, 0x82])
            _, sw = P.send(self.t, rnd.choice([0, 0x10]), ins, p1, p2, data)
            self.assertIsInstance(sw, int)


class State(CardTest):
    def test_state_survives_a_restart_and_pins_are_not_in_clear(self):
        P.mgmt_auth(self.t)
        self.generate(0x9A, 0x11)
        self.sw(0, 0x24, 0, 0x80, P.pin_block("123456") + P.pin_block("24681357"))
        path = self.card.state_path
        text = read(path)
        self.assertNotIn("24681357", text)
        again = piv_card.PivCard(path, os.path.join(self.dir.name, "ca"))
        self.assertEqual(again.st["serial"], self.card.st["serial"])
        self.assertEqual(P.send(again.process, 0, 0x20, 0, 0x80, P.pin_block("24681357"))[1], 0x9000)
        self.assertIn("9a", again.st["keys"])


if __name__ == "__main__":
    unittest.main()
