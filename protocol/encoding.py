"""URL-safe base64 without padding: how keys, boxes and secrets travel inside JSON and URLs."""

from __future__ import annotations

import base64
import binascii

from protocol.errors import DecodeError


def b64u_encode(data: bytes) -> str:
    """Encode bytes as unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str, *, length: int | None = None) -> bytes:
    """Decode unpadded URL-safe base64, optionally insisting on an exact byte length."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise DecodeError("not valid base64url") from None
    if length is not None and len(raw) != length:
        raise DecodeError(f"expected {length} bytes, got {len(raw)}")
    return raw
