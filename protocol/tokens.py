"""Bearer tokens: 256 random bits, a kind prefix, and only a SHA-256 hash kept at rest.

    ora_<kind>_<43 chars of base64url>       kind: at (access), rt (refresh), nd (node credential), cw (Cloud worker credential)

A fast hash is right here: the token is a uniformly random 256-bit value, so there is nothing
for a slow password hash to protect against, and lookups stay cheap on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import DecodeError

TokenKind = Literal["at", "rt", "nd", "cw"]
TOKEN_BYTES = 32
_KINDS: frozenset[str] = frozenset({"at", "rt", "nd", "cw"})


def new_token(kind: TokenKind) -> str:
    """A fresh random token of the given kind."""
    return f"ora_{kind}_{b64u_encode(secrets.token_bytes(TOKEN_BYTES))}"


def token_kind(token: str) -> TokenKind:
    """The kind of a well-formed token; anything else is a DecodeError."""
    parts = token.split("_", 2)  # the base64url body may itself contain "_"
    if len(parts) != 3 or parts[0] != "ora" or parts[1] not in _KINDS:
        raise DecodeError("not an ORA token")
    b64u_decode(parts[2], length=TOKEN_BYTES)
    kind: TokenKind = parts[1]  # type: ignore[assignment]
    return kind


def token_hash(token: str) -> str:
    """The only form in which a token is stored: hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
