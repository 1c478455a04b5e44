"""Pairing by a typed code, authenticated by the code itself (SPAKE2), safe against a lying Relay.

A code is ten characters of a 31-letter alphabet, shown as `NNNNP-PPPPP`. Its first four
characters are the *nameplate*: public, they only find the pairing at the Relay
(`code_pairing_id`). The whole code is the SPAKE2 password; the Relay never sees it, nor any
value computed from more than the nameplate.

    device (SPAKE2 side A)                 Relay                 Node (side B, fresh per attempt)
    pw = "ORA-pair-code-v2:" || code
    X* = SPAKE2_A(pw).start()  --- POST /v1/pair/code {pairing_id, pake: X*} --->
                                                          counts the attempt; locks the pairing
                                                          after MAX_CODE_ATTEMPTS (none succeeds)
                                                          Y* = SPAKE2_B(pw).start(); K = finish(X*)
    <------------- reply = Y* (33) || nonce (24) || secretbox(k_box, JSON{pairing_id, node_id,
                                                                node_pub, secret}) ------------
    K = finish(Y*); open the box: a wrong code (or a Relay's guess) fails here, and says so
    ... then the QR flow of protocol.pairing, as if the QR had carried (node_pub, secret):
    POST /v1/pair {proof(secret), crypto_box(e -> node_pub, {pairing_id, secret, device_pub})}
    the Node checks the secret, shows `verification_code` and asks the owner; its answer is
    crypto_box(node -> device_pub), which only the holder of node_pub's private key can write.

    SPAKE2: python `spake2` 0.9 (Ed25519 group, magic-wormhole's), idA "ORA-pair-device",
    idB "ORA-pair-node"; assets/web/ora-pake.js is the browser port (same constants).
    k = SHA-512("ORA-pair-code-key-v2" || K); k_box = k[0:32], k_sas = k[32:64]
    secretbox = XSalsa20-Poly1305 (PyNaCl SecretBox / tweetnacl secretbox)
    verification_code = 6 digits of SHA-512("ORA-pair-sas-v2" || k_sas || node_pub || device_pub)

Why a Relay gets at most one online guess per attempt: SPAKE2 messages are the password's
scalar blinded by a fresh random scalar, so the transcript the Relay sees (X*, Y*, the box)
reveals nothing it can test passwords against offline. Playing the device, the Relay commits to
one guess in X* (it cannot compute K for any other password without the discrete log of M);
the Node's box then tells it whether that one guess was right. Playing the Node, it commits to
one guess in Y*, and the device refuses its box unless that guess was right. The Node counts
every attempt and closes the pairing after MAX_CODE_ATTEMPTS, so a Relay's chance is at most
3 / 31^6 (about 1 in 300 million) per pairing the owner opens, and a miss is seen by the
owner's device as "wrong code". The pairing secret inside the box is fresh random (not
derived from the code), so the Relay's verifier for it (protocol.pairing.relay_verifier) is
no oracle for the code either.

The verification code both screens show is a function of K, which nobody without the code can
compute or steer: no side picks anything after seeing the other's value in a way that moves
it, so grinding keys for matching digits is impossible rather than slow. It is a second check;
the code already authenticated both keys.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.secret
import spake2

from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import DecodeError, PairingError
from protocol.pairing import KEY_SIZE, SECRET_SIZE, normalize_code

MAX_CODE_ATTEMPTS = 3
PAKE_MESSAGE_SIZE = 33
_ID_DEVICE = b"ORA-pair-device"
_ID_NODE = b"ORA-pair-node"
_PW_LABEL = b"ORA-pair-code-v2:"
_KEY_LABEL = b"ORA-pair-code-key-v2"
_SAS_LABEL = b"ORA-pair-sas-v2"
_MAX_REPLY = 2048
WRONG_CODE = (
    "the code is wrong, or the Relay changed the pairing messages: "
    "check the code on your PC and type it again"
)


def _password(typed: str) -> bytes:
    return _PW_LABEL + normalize_code(typed).encode("ascii")


def _split(key: bytes) -> tuple[bytes, bytes]:
    k = hashlib.sha512(_KEY_LABEL + key).digest()
    return k[:32], k[32:]


def verification_code(sas_key: bytes, node_public_key: bytes, device_public_key: bytes) -> str:
    """Six digits both screens show ('123 456'), from the SPAKE2 key and both static keys."""
    digest = hashlib.sha512(_SAS_LABEL + sas_key + node_public_key + device_public_key).digest()
    number = int.from_bytes(digest[:8], "big") % 1_000_000
    return f"{number // 1000:03d} {number % 1000:03d}"


@dataclass(frozen=True, kw_only=True)
class CodeInvite:
    """What the device learnt from the Node, authenticated by the code: as good as a QR."""

    pairing_id: str
    node_id: str
    node_public_key: bytes
    secret: bytes
    sas_key: bytes


class DeviceExchange:
    """The device's side of one attempt: `message` to send, then `open_reply` on the answer."""

    def __init__(self, typed: str) -> None:
        self._spake = spake2.SPAKE2_A(_password(typed), idA=_ID_DEVICE, idB=_ID_NODE)
        self.message: bytes = self._spake.start()

    def open_reply(self, reply: bytes, pairing_id: str) -> CodeInvite:
        """The Node's key and secret, or PairingError when the code (or the Relay) was wrong."""
        if not PAKE_MESSAGE_SIZE + 24 + 16 <= len(reply) <= _MAX_REPLY:
            raise PairingError(WRONG_CODE)
        try:
            key = self._spake.finish(reply[:PAKE_MESSAGE_SIZE])
            box_key, sas_key = _split(key)
            raw = nacl.secret.SecretBox(box_key).decrypt(reply[PAKE_MESSAGE_SIZE:])
        except (spake2.spake2.SPAKEError, ValueError, nacl.exceptions.CryptoError):
            raise PairingError(WRONG_CODE) from None
        obj = _load(raw)
        try:
            if obj["pairing_id"] != pairing_id or not isinstance(obj["node_id"], str):
                raise PairingError("the answer belongs to another pairing")
            return CodeInvite(
                pairing_id=pairing_id,
                node_id=obj["node_id"],
                node_public_key=b64u_decode(obj["node_pub"], length=KEY_SIZE),
                secret=b64u_decode(obj["secret"], length=SECRET_SIZE),
                sas_key=sas_key,
            )
        except (KeyError, TypeError, DecodeError):
            raise PairingError("the pairing answer is malformed") from None


def node_reply(
    *,
    typed: str,
    device_message: bytes,
    pairing_id: str,
    node_id: str,
    node_public_key: bytes,
    secret: bytes,
) -> tuple[bytes, bytes]:
    """Node side of one attempt: (reply for the device, the key for `verification_code`)."""
    if len(device_message) != PAKE_MESSAGE_SIZE:
        raise PairingError("the pairing message has an impossible size")
    side = spake2.SPAKE2_B(_password(typed), idA=_ID_DEVICE, idB=_ID_NODE)
    outbound = side.start()
    try:
        key = side.finish(device_message)
    except (spake2.spake2.SPAKEError, ValueError):
        raise PairingError("the pairing message is not a valid SPAKE2 message") from None
    box_key, sas_key = _split(key)
    body = {
        "pairing_id": pairing_id,
        "node_id": node_id,
        "node_pub": b64u_encode(node_public_key),
        "secret": b64u_encode(secret),
    }
    sealed = nacl.secret.SecretBox(box_key).encrypt(
        json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    )
    return outbound + bytes(sealed), sas_key


def _load(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PairingError("the pairing answer is not valid JSON") from None
    if not isinstance(obj, dict):
        raise PairingError("the pairing answer is not an object")
    return obj
