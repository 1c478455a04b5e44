"""Text inside a push notification, end to end: the Node seals it for one device, the Relay
passes it on (relay_server/push.py), the device's service worker opens it (assets/web/sw.js).

    sealed = base64url( nonce (24, random) || crypto_box(text JSON, nonce, device_pk, node_sk) )
    text JSON = {"kind": ..., "event": <event id>, "ids": {...}, ...fields to show}

crypto_box between the Node's and the device's static keys (the pair already trusted from
pairing), so the device knows the Node wrote it and nobody else (the Relay included) can read
it. The text repeats the push's kind, event id and ids; the worker shows it only when they match
the push it came in, so a Relay cannot move a sealed text onto another event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey

from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import ProtocolError


class NotifyError(ProtocolError):
    """A sealed notification text that cannot be opened or does not belong to its push."""


def seal_text(
    node_private_key: bytes,
    device_public_key: bytes,
    *,
    kind: str,
    event_id: str,
    ids: Mapping[str, str],
    fields: Mapping[str, str],
) -> str:
    """What the Node puts in a push's `sealed` for one device."""
    text = {**fields, "kind": kind, "event": event_id, "ids": dict(ids)}
    box = Box(PrivateKey(node_private_key), PublicKey(device_public_key))
    return b64u_encode(bytes(box.encrypt(json.dumps(text, separators=(",", ":")).encode())))


def open_text(
    device_private_key: bytes,
    node_public_key: bytes,
    sealed: str,
    *,
    kind: str,
    event_id: str,
    ids: Mapping[str, str],
) -> dict[str, str]:
    """The fields shown, if sealed is the Node's for exactly this push (as sw.js checks)."""
    try:
        raw = Box(PrivateKey(device_private_key), PublicKey(node_public_key)).decrypt(
            b64u_decode(sealed)
        )
        text = json.loads(raw)
    except (CryptoError, ValueError) as err:
        raise NotifyError(f"not a sealed text from this Node: {err}") from None
    if text.get("kind") != kind or text.get("event") != event_id or text.get("ids") != dict(ids):
        raise NotifyError("the sealed text belongs to another push")
    return {k: str(v) for k, v in text.items() if k not in ("kind", "event", "ids")}
