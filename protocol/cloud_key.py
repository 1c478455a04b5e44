"""The Cloud's public key, signed by ORA's release key so a Relay cannot swap it.

A device opens its Cloud session to whatever X25519 key it is given; the Relay hands that key
out, so a Relay that could choose it would read every Cloud request. The key therefore comes
in a statement signed by ORA's release key (Ed25519; its public half is pinned in the web
bundle as `assets/web/release-key.json`, see installer/release_key.py for the convention),
and the device checks it before anything is sealed to the key:

    statement = {"payload": "<JSON text>", "signature": "<standard base64, 64 bytes>"}
    payload   = {"kind": "ora-cloud-key", "public_key": "<base64url X25519, 32 bytes>",
                 "not_after": <unix seconds>}
    signature = Ed25519(release key, CONTEXT || "\\n" || payload)   CONTEXT = "ora-cloud-key/1"

The context makes a signature made for another purpose (the web bundle) useless here, and
`not_after` bounds how long a retired Cloud key stays acceptable. The Relay serves the
statement (`GET /v1/cloud/key`, from ORA_RELAY_CLOUD_KEY_STATEMENT, made by
`python -m installer.release cloud-key`) but cannot make one. assets/web/ora-crypto.js
`verifyCloudKey` is the browser's copy of `verify`.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any

import nacl.exceptions
import nacl.signing

from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import DecodeError, ProtocolError

CONTEXT = "ora-cloud-key/1"
KIND = "ora-cloud-key"


class CloudKeyRefused(ProtocolError):
    """The Cloud's key is not vouched for by ORA's release key; nothing may be sent to it."""


def _signed(payload: str) -> bytes:
    return CONTEXT.encode("ascii") + b"\n" + payload.encode("utf-8")


def sign(release_seed: bytes, cloud_public_key: bytes, not_after: float) -> dict[str, str]:
    """Release side: a statement vouching for cloud_public_key until not_after."""
    payload = json.dumps(
        {"kind": KIND, "public_key": b64u_encode(cloud_public_key), "not_after": int(not_after)},
        separators=(",", ":"),
        sort_keys=True,
    )
    signature = nacl.signing.SigningKey(release_seed).sign(_signed(payload)).signature
    return {"payload": payload, "signature": base64.b64encode(signature).decode("ascii")}


def verify(statement: Any, release_public_key: bytes, now: float | None = None) -> bytes:
    """Device side: the Cloud's X25519 key, or CloudKeyRefused saying why."""
    if not isinstance(statement, dict):
        raise CloudKeyRefused("the Relay sent the Cloud's key without ORA's signature")
    payload, signature = statement.get("payload"), statement.get("signature")
    if not isinstance(payload, str) or not isinstance(signature, str):
        raise CloudKeyRefused("the Relay sent the Cloud's key without ORA's signature")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        nacl.signing.VerifyKey(release_public_key).verify(_signed(payload), raw_signature)
    except (binascii.Error, ValueError, nacl.exceptions.BadSignatureError):
        raise CloudKeyRefused("the Cloud's key is not signed by ORA's release key") from None
    try:
        claim = json.loads(payload)
        if claim["kind"] != KIND or not isinstance(claim["not_after"], int):
            raise CloudKeyRefused("the signed statement is not about the Cloud's key")
        key = b64u_decode(claim["public_key"], length=32)
    except (json.JSONDecodeError, KeyError, TypeError, DecodeError):
        raise CloudKeyRefused("the signed Cloud key statement is malformed") from None
    if claim["not_after"] < (time.time() if now is None else now):
        raise CloudKeyRefused("the Cloud's signed key has expired: update ORA")
    return key
