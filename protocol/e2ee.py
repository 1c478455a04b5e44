"""End-to-end session between a device and its Node: a Noise-KK-style handshake, then frames
sealed with secretbox under a per-direction key and a strictly increasing 64-bit counter.

Both sides already know each other's static X25519 public key (from pairing), so the Relay in
between can neither read nor forge: a substituted key makes the handshake confirmation fail.

Handshake, initiator (device) I and responder (Node) R, statics S, ephemerals e:

    HS1  I -> R  |0x01|  e_I (32)  |
    HS2  R -> I  |0x02|  e_R (32)  |  confirm: DATA frame with counter 0, empty payload |

    es = X25519(e_I, S_R)   ss = X25519(S_I, S_R)   ee = X25519(e_I, e_R)   se = X25519(S_I, e_R)
    h  = SHA-512(LABEL || S_I.pub || S_R.pub || e_I || e_R)           (transcript)
    k  = SHA-512(LABEL || es || ss || ee || se || h);  k_I->R = k[0:32],  k_R->I = k[32:64]

Every frame after that, in either direction:

    DATA  |0x03| counter (8, big-endian) | secretbox(padded, key, nonce = 16 zero bytes || counter) |
    padded = | length of payload (4, big-endian) | payload | zero bytes up to the bucket |

A receiver accepts only the counter it expects next (replay and reorder are errors), and the
nonce never repeats because the counter only grows and each session has fresh keys.

Padding: the Relay sees every frame's size, so payloads are padded inside the box to size
buckets (`bucket`): at least 256 bytes, then Padmé (Nikitin et al., "Reducing Metadata Leakage
from Encrypted Files and Communication with PURBs", 2019): a length L is rounded up so only
its top ~log2(log2 L) + 1 bits remain, at most ~12% more bytes (e.g. 1000 -> 1024,
5000 -> 5120, 70000 -> 71680), and a bucket reveals O(log log L) bits of the length. Padding
stops at 1 MiB (the Relay's frame limit). The length and the padding are under the MAC, so a
receiver refuses any frame whose length field or zero padding is not exact. ora-crypto.js pads
the same way (tests/web/test_interop.py checks it byte for byte).

After HS2 the initiator sends CONFIRM, a DATA frame with counter 0 and an empty payload: the
responder keeps its previous session with this peer until an authentic frame arrives under the
new keys (protocol.peer_link), so a replayed HS1 cannot replace a live session.
"""

from __future__ import annotations

import hashlib
import struct

import nacl.bindings as sodium
import nacl.exceptions

from protocol.errors import DecryptError, HandshakeError, ReplayError

LABEL = b"ORA-E2EE-KK-v1"
KEY_SIZE = 32
HS1 = 0x01
HS2 = 0x02
DATA = 0x03
RESYNC = 0x04  # bare and unauthenticated: "I hold no session for you; start a new handshake"
_COUNTER = struct.Struct(">BQ")  # kind, counter
_NONCE_PAD = bytes(16)
_MAX_COUNTER = 2**64 - 1
_LENGTH = struct.Struct(">I")
MIN_BUCKET = 256
PAD_LIMIT = 1024 * 1024
MAC_SIZE = sodium.crypto_secretbox_MACBYTES
DATA_OVERHEAD = _COUNTER.size + MAC_SIZE


def _dh(private: bytes, public: bytes) -> bytes:
    """X25519; libsodium refuses low-order points (an all-zero result)."""
    try:
        return sodium.crypto_scalarmult(private, public)
    except (nacl.exceptions.CryptoError, RuntimeError, ValueError, TypeError):
        raise HandshakeError("key agreement failed: invalid public key") from None


def _derive(
    es: bytes, ss: bytes, ee: bytes, se: bytes, transcript: tuple[bytes, ...]
) -> tuple[bytes, bytes]:
    """Session keys (initiator->responder, responder->initiator) from the four DH results."""
    h = hashlib.sha512(LABEL + b"".join(transcript)).digest()
    okm = hashlib.sha512(LABEL + es + ss + ee + se + h).digest()
    return okm[:KEY_SIZE], okm[KEY_SIZE:]


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh X25519 (private, public) pair."""
    public, private = sodium.crypto_box_keypair()
    return private, public


def public_key_of(private: bytes) -> bytes:
    """The X25519 public key of a private key."""
    return sodium.crypto_scalarmult_base(private)


def bucket(size: int) -> int:
    """The padded size for `size` bytes (length prefix included): 256 at least, then Padmé."""
    if size <= MIN_BUCKET:
        return MIN_BUCKET
    exponent = size.bit_length() - 1  # floor(log2 size)
    mask = (1 << (exponent - exponent.bit_length())) - 1
    return max(size, min((size + mask) & ~mask, PAD_LIMIT))


def pad(payload: bytes) -> bytes:
    """length || payload || zeros, to the payload's bucket."""
    size = _LENGTH.size + len(payload)
    return b"".join((_LENGTH.pack(len(payload)), payload, bytes(bucket(size) - size)))


def unpad(padded: bytes) -> bytes:
    """The payload inside `pad`'s output; a wrong length or non-zero padding is refused."""
    if len(padded) < _LENGTH.size:
        raise DecryptError("frame too short for its length field")
    (length,) = _LENGTH.unpack_from(padded)
    end = _LENGTH.size + length
    # count() checks the zero padding in C, without copying it.
    if end > len(padded) or len(padded) != bucket(end) or padded.count(0, end) != len(padded) - end:
        raise DecryptError("frame padding is malformed")
    return padded[_LENGTH.size : end]


def resync_frame() -> bytes:
    """The bare RESYNC frame a responder sends when it holds no session for a peer."""
    return bytes([RESYNC])


class Session:
    """An established session: seal outgoing payloads, open incoming frames in strict order."""

    __slots__ = ("_recv_counter", "_recv_key", "_send_counter", "_send_key")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        self._send_key = send_key
        self._recv_key = recv_key
        self._send_counter = 0
        self._recv_counter = 0

    @property
    def recv_counter(self) -> int:
        """The counter of the next frame this session will accept."""
        return self._recv_counter

    def seal(self, payload: bytes) -> bytes:
        """Encrypt and authenticate one payload as a DATA frame."""
        counter = self._send_counter
        if counter >= _MAX_COUNTER:
            raise ReplayError("session exhausted its counter: start a new session")
        self._send_counter = counter + 1
        nonce = _NONCE_PAD + counter.to_bytes(8, "big")
        # The _easy form gives the same MAC || ciphertext bytes without zero-padding copies.
        box = sodium.crypto_secretbox_easy(pad(payload), nonce, self._send_key)
        return _COUNTER.pack(DATA, counter) + box

    def open(self, frame: bytes) -> bytes:
        """Authenticate and decrypt one DATA frame; anything but the next counter is refused."""
        if len(frame) < DATA_OVERHEAD:
            raise DecryptError("frame too short")
        kind, counter = _COUNTER.unpack_from(frame)
        if kind != DATA:
            raise DecryptError(f"unexpected frame kind {kind:#x}")
        if counter != self._recv_counter:
            raise ReplayError(f"frame counter {counter}, expected {self._recv_counter}")
        nonce = _NONCE_PAD + frame[1:9]
        try:
            padded = sodium.crypto_secretbox_open_easy(frame[9:], nonce, self._recv_key)
        except nacl.exceptions.CryptoError:
            raise DecryptError("frame failed authentication") from None
        payload = unpad(padded)
        # Only an authentic frame advances the counter, so a forged one cannot desynchronise us.
        self._recv_counter = counter + 1
        return payload


class Initiator:
    """The device's side of the handshake."""

    def __init__(self, static_private: bytes, responder_static_public: bytes) -> None:
        self._s = static_private
        self._s_pub = public_key_of(static_private)
        self._rs = responder_static_public
        self._e, self._e_pub = generate_keypair()
        self._done = False

    def start(self) -> bytes:
        """HS1: the initiator's ephemeral public key."""
        return bytes([HS1]) + self._e_pub

    def finish(self, hs2: bytes) -> Session:
        """Check HS2's confirmation and return the session; a wrong Node key fails here."""
        if self._done:
            raise HandshakeError("handshake already finished")
        if len(hs2) < 1 + KEY_SIZE + DATA_OVERHEAD or hs2[0] != HS2:
            raise HandshakeError("malformed handshake reply")
        self._done = True
        e_r = hs2[1 : 1 + KEY_SIZE]
        k_i2r, k_r2i = _derive(
            _dh(self._e, self._rs),
            _dh(self._s, self._rs),
            _dh(self._e, e_r),
            _dh(self._s, e_r),
            (self._s_pub, self._rs, self._e_pub, e_r),
        )
        session = Session(send_key=k_i2r, recv_key=k_r2i)
        try:
            if session.open(hs2[1 + KEY_SIZE :]) != b"":
                raise HandshakeError("handshake confirmation carries data")
        except (DecryptError, ReplayError):
            raise HandshakeError(
                "the Node could not prove its identity: wrong key or a tampered connection"
            ) from None
        return session


def respond(
    static_private: bytes, initiator_static_public: bytes, hs1: bytes
) -> tuple[bytes, Session]:
    """The Node's side: answer HS1 with HS2 (ephemeral + confirmation) and return the session."""
    if len(hs1) != 1 + KEY_SIZE or hs1[0] != HS1:
        raise HandshakeError("malformed handshake start")
    e_i = hs1[1:]
    e, e_pub = generate_keypair()
    s_pub = public_key_of(static_private)
    k_i2r, k_r2i = _derive(
        _dh(static_private, e_i),
        _dh(static_private, initiator_static_public),
        _dh(e, e_i),
        _dh(e, initiator_static_public),
        (initiator_static_public, s_pub, e_i, e_pub),
    )
    session = Session(send_key=k_r2i, recv_key=k_i2r)
    return bytes([HS2]) + e_pub + session.seal(b""), session
