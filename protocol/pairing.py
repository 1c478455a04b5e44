"""Pairing a device with a Node, safe against a Relay that lies.

The Node shows a QR code of a web-client URL whose fragment (never sent to any server) holds:

    #v=1&r=<relay base URL>&n=<node id>&p=<pairing id>&s=<one-time secret>&k=<Node public key>

The device proves to the Relay that it holds the secret with `relay_proof(secret)` (a one-way
value, so the Relay learns nothing that lets it pair), and sends the Node a request sealed to
the Node's key from the QR:

    request = e_pub (32) || nonce (24) || crypto_box(JSON{pairing_id, secret, device_pub, name}, e -> Node)

The Node, having checked the secret itself, answers with a box between the two static keys:

    answer  = nonce (24) || crypto_box(JSON{pairing_id, device_id, node_id, role, ...}, Node -> device)

Without a camera the device types a short code instead; protocol.code_pairing turns it into
the same (Node key, secret) pair a QR code carries, authenticated by the code with SPAKE2. Only
the code's first NAMEPLATE_LENGTH characters reach the Relay (hashed, in `code_pairing_id`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import nacl.exceptions
from nacl.public import Box, PrivateKey, PublicKey

from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import DecodeError, PairingError

PAIRING_VERSION = "1"
SECRET_SIZE = 32
KEY_SIZE = 32
_PROOF_LABEL = b"ORA-pair-relay-proof-v1"
_CODE_ID_LABEL = b"ORA-pair-code-id-v2"
# No 0/O, 1/I/L: a code read off a screen and typed on a phone must survive the trip.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
# The first characters find the pairing at the Relay (public); the rest, 31**6 ~ 2**29.7, is
# what a guesser must hit, with at most MAX_CODE_ATTEMPTS online tries (protocol.code_pairing).
NAMEPLATE_LENGTH = 4
_MAX_BOX = 4096


@dataclass(frozen=True, kw_only=True)
class PairingInvite:
    """What the QR code carries, in its URL fragment."""

    relay_url: str
    node_id: str
    pairing_id: str
    secret: bytes
    node_public_key: bytes

    def to_url(self, web_client_url: str) -> str:
        """The URL to encode in the QR: the web client with the invite in its fragment."""
        fragment = urlencode(
            {
                "v": PAIRING_VERSION,
                "r": self.relay_url,
                "n": self.node_id,
                "p": self.pairing_id,
                "s": b64u_encode(self.secret),
                "k": b64u_encode(self.node_public_key),
            }
        )
        return f"{web_client_url.split('#', 1)[0]}#{fragment}"

    @classmethod
    def from_url(cls, url: str) -> PairingInvite:
        """Parse an invite URL; anything incomplete or malformed is a PairingError."""
        fields = dict(parse_qsl(urlsplit(url).fragment, keep_blank_values=True))
        try:
            if fields.get("v") != PAIRING_VERSION:
                raise PairingError("this pairing link is from another ORA version: update ORA")
            relay = fields["r"]
            if urlsplit(relay).scheme not in ("http", "https", "ws", "wss"):
                raise PairingError("the pairing link names no valid Relay address")
            return cls(
                relay_url=relay,
                node_id=fields["n"],
                pairing_id=fields["p"],
                secret=b64u_decode(fields["s"], length=SECRET_SIZE),
                node_public_key=b64u_decode(fields["k"], length=KEY_SIZE),
            )
        except KeyError as missing:
            raise PairingError(f"the pairing link is incomplete (no {missing.args[0]!r})") from None
        except DecodeError as bad:
            raise PairingError(f"the pairing link is damaged: {bad}") from None


def new_secret() -> bytes:
    """A fresh one-time pairing secret."""
    return secrets.token_bytes(SECRET_SIZE)


def new_code() -> str:
    """A one-time code to type, shown as XXXXX-XXXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize_code(typed: str) -> str:
    """What the person typed, without separators and case; PairingError if it cannot be a code."""
    code = "".join(c for c in typed.upper() if c.isalnum())
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise PairingError(f"a pairing code has {CODE_LENGTH} letters and digits, like 7KQ2M-XH9PD")
    return code


def code_pairing_id(typed: str) -> str:
    """The pairing id both sides derive from a typed code's nameplate (never from the rest)."""
    nameplate = normalize_code(typed)[:NAMEPLATE_LENGTH].encode("ascii")
    return b64u_encode(hashlib.sha512(_CODE_ID_LABEL + nameplate).digest()[:12])


def relay_proof(secret: bytes) -> str:
    """What the device shows the Relay: derived from the secret, useless for pairing itself.

    SHA-512 (first 32 bytes, hex) because a browser on a plain-http LAN origin has no
    WebCrypto, and tweetnacl ships SHA-512 but not SHA-256.
    """
    return hashlib.sha512(_PROOF_LABEL + secret).digest()[:32].hex()


def relay_verifier(secret: bytes) -> str:
    """What the Node registers at the Relay: the hash of the proof, as tokens are stored."""
    return hashlib.sha256(relay_proof(secret).encode("ascii")).hexdigest()


def proof_matches(proof: str, verifier: str) -> bool:
    """Relay side: does a presented proof match the registered verifier (constant time)?"""
    candidate = hashlib.sha256(proof.encode("utf-8", "replace")).hexdigest()
    return hmac.compare_digest(candidate, verifier)


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _load(raw: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PairingError("pairing message is not valid JSON") from None
    if not isinstance(obj, dict):
        raise PairingError("pairing message is not an object")
    return obj


@dataclass(frozen=True, kw_only=True)
class PairingRequest:
    """The device's request, as the Node reads it after decryption."""

    pairing_id: str
    secret: bytes
    device_public_key: bytes
    device_name: str


def seal_request(
    *,
    node_public_key: bytes,
    pairing_id: str,
    secret: bytes,
    device_private_key: bytes,
    device_name: str,
) -> bytes:
    """Device side: seal a pairing request to the Node's key from a fresh ephemeral key."""
    ephemeral = PrivateKey.generate()
    device_pub = bytes(PrivateKey(device_private_key).public_key)
    body = _json(
        {
            "pairing_id": pairing_id,
            "secret": b64u_encode(secret),
            "device_pub": b64u_encode(device_pub),
            "name": device_name,
        }
    )
    sealed = Box(ephemeral, PublicKey(node_public_key)).encrypt(body)
    return bytes(ephemeral.public_key) + bytes(sealed)


def open_request(*, node_private_key: bytes, sealed: bytes) -> PairingRequest:
    """Node side: decrypt and validate a pairing request (the secret is checked by the caller)."""
    if not KEY_SIZE + 24 + 16 <= len(sealed) <= _MAX_BOX:
        raise PairingError("pairing request has an impossible size")
    try:
        raw = Box(PrivateKey(node_private_key), PublicKey(sealed[:KEY_SIZE])).decrypt(
            sealed[KEY_SIZE:]
        )
    except nacl.exceptions.CryptoError:
        raise PairingError("pairing request was not sealed to this Node's key") from None
    obj = _load(raw)
    try:
        name = obj["name"]
        pairing_id = obj["pairing_id"]
        if not isinstance(name, str) or not isinstance(pairing_id, str) or len(name) > 100:
            raise PairingError("pairing request has a bad field")
        return PairingRequest(
            pairing_id=pairing_id,
            secret=b64u_decode(obj["secret"], length=SECRET_SIZE),
            device_public_key=b64u_decode(obj["device_pub"], length=KEY_SIZE),
            device_name=name,
        )
    except (KeyError, TypeError, DecodeError):
        raise PairingError("pairing request is incomplete or malformed") from None


def secret_matches(request: PairingRequest, expected: bytes) -> bool:
    """Constant-time check of the request's secret against the one the Node issued."""
    return hmac.compare_digest(request.secret, expected)


def seal_answer(
    *, node_private_key: bytes, device_public_key: bytes, answer: dict[str, Any]
) -> bytes:
    """Node side: answer the device with a box between the two static keys."""
    return bytes(
        Box(PrivateKey(node_private_key), PublicKey(device_public_key)).encrypt(_json(answer))
    )


def open_answer(
    *, device_private_key: bytes, node_public_key: bytes, sealed: bytes, pairing_id: str
) -> dict[str, Any]:
    """Device side: only the Node holding the QR's key can have written this answer."""
    if len(sealed) > _MAX_BOX:
        raise PairingError("pairing answer is too large")
    try:
        raw = Box(PrivateKey(device_private_key), PublicKey(node_public_key)).decrypt(sealed)
    except nacl.exceptions.CryptoError:
        raise PairingError(
            "the answer did not come from the Node in the QR code: pairing refused"
        ) from None
    obj = _load(raw)
    if obj.get("pairing_id") != pairing_id:
        raise PairingError("the answer belongs to another pairing")
    return obj
