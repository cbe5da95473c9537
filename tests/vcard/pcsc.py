"""A minimal PC/SC client over libpcsclite (ctypes), for the virtual card tests and benchmark.

Only what the tests need: list readers, connect, transmit, wait for a reader state change.
pcsc-lite's API on Linux: DWORD and LONG are C `unsigned long` / `long` (pcsclite.h).
Honours PCSCLITE_CSOCK_NAME, as every client of libpcsclite does.
"""

import ctypes
import ctypes.util

_lib = ctypes.CDLL(ctypes.util.find_library("pcsclite") or "libpcsclite.so.1")

DWORD = ctypes.c_ulong
LONG = ctypes.c_long
SCARD_SCOPE_USER = 0
SCARD_SHARE_SHARED = 2
SCARD_PROTOCOL_T0, SCARD_PROTOCOL_T1 = 1, 2
SCARD_LEAVE_CARD, SCARD_RESET_CARD = 0, 1
SCARD_STATE_UNAWARE = 0
SCARD_STATE_CHANGED = 0x2
SCARD_STATE_EMPTY = 0x10
SCARD_STATE_PRESENT = 0x20
SCARD_E_TIMEOUT = 0x8010000A
SCARD_E_NO_SMARTCARD = 0x8010000C
SCARD_W_REMOVED_CARD = 0x80100069
SCARD_W_RESET_CARD = 0x80100068
SCARD_E_READER_UNAVAILABLE = 0x80100017

NAMES = {
    SCARD_E_TIMEOUT: "SCARD_E_TIMEOUT",
    SCARD_E_NO_SMARTCARD: "SCARD_E_NO_SMARTCARD",
    SCARD_W_REMOVED_CARD: "SCARD_W_REMOVED_CARD",
    SCARD_W_RESET_CARD: "SCARD_W_RESET_CARD",
    SCARD_E_READER_UNAVAILABLE: "SCARD_E_READER_UNAVAILABLE",
}


class PcscError(Exception):
    def __init__(self, fn, rv):
        self.rv = rv & 0xFFFFFFFF
        self.name = NAMES.get(self.rv, "0x%08X" % self.rv)
        super().__init__(f"{fn}: {self.name}")


class EmptyResponse(Exception):
    """SCardTransmit succeeded but returned fewer than two bytes (no status word)."""


class _IoRequest(ctypes.Structure):
    _fields_ = [("dwProtocol", DWORD), ("cbPciLength", DWORD)]


class ReaderState(ctypes.Structure):
    _fields_ = [
        ("szReader", ctypes.c_char_p),
        ("pvUserData", ctypes.c_void_p),
        ("dwCurrentState", DWORD),
        ("dwEventState", DWORD),
        ("cbAtr", DWORD),
        ("rgbAtr", ctypes.c_ubyte * 33),
    ]


def _check(fn, rv):
    if rv != 0:
        raise PcscError(fn, rv)


class Context:
    def __init__(self):
        self.h = LONG()
        _check("SCardEstablishContext", _lib.SCardEstablishContext(SCARD_SCOPE_USER, None, None, ctypes.byref(self.h)))

    def close(self):
        if self.h:
            _lib.SCardReleaseContext(self.h)
            self.h = LONG()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readers(self):
        n = DWORD(0)
        _check("SCardListReaders", _lib.SCardListReaders(self.h, None, None, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(n.value)
        _check("SCardListReaders", _lib.SCardListReaders(self.h, None, buf, ctypes.byref(n)))
        return [r.decode() for r in buf.raw[: n.value].split(b"\0") if r]

    def state(self, reader, current=SCARD_STATE_UNAWARE, timeout_ms=0):
        """The reader's event state after waiting up to timeout_ms for a change from current."""
        rs = ReaderState(reader.encode(), None, current, 0, 0)
        rv = _lib.SCardGetStatusChange(self.h, DWORD(timeout_ms), ctypes.byref(rs), DWORD(1))
        if rv & 0xFFFFFFFF == SCARD_E_TIMEOUT:
            return rs.dwCurrentState
        _check("SCardGetStatusChange", rv)
        return rs.dwEventState

    def connect(self, reader):
        return Card(self, reader)


class Card:
    def __init__(self, ctx, reader):
        self.h = LONG()
        proto = DWORD()
        _check(
            "SCardConnect",
            _lib.SCardConnect(
                ctx.h, reader.encode(), SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1,
                ctypes.byref(self.h), ctypes.byref(proto),
            ),
        )
        self.pci = _IoRequest(proto.value, ctypes.sizeof(_IoRequest))
        self.buf = ctypes.create_string_buffer(65538)

    def transmit(self, apdu):
        """Returns (data, sw); raises PcscError for transport errors (e.g. card removed)."""
        n = DWORD(len(self.buf))
        _check(
            "SCardTransmit",
            _lib.SCardTransmit(self.h, ctypes.byref(self.pci), bytes(apdu), DWORD(len(apdu)), None, self.buf, ctypes.byref(n)),
        )
        r = self.buf.raw[: n.value]
        if len(r) < 2:
            # vpcd answers a command the card was pulled out during with success and no bytes;
            # the next command gets SCARD_W_REMOVED_CARD.
            raise EmptyResponse("SCardTransmit: success without a status word")
        return r[:-2], int.from_bytes(r[-2:], "big")

    def disconnect(self, disposition=SCARD_LEAVE_CARD):
        if self.h:
            _lib.SCardDisconnect(self.h, DWORD(disposition))
            self.h = LONG()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disconnect()
