"""Device tokens: short-lived access tokens and rotating refresh tokens with reuse detection.

A refresh token works once. Using it returns a new pair and retires the family's earlier
access tokens at once; presenting a retired refresh token again means it was copied, so the
device's whole token family is revoked (the legitimate device re-pairs; the thief is out).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protocol.errors import DecodeError
from protocol.tokens import new_token, token_hash, token_kind
from relay_server.errors import RefreshReused, TokenExpired, TokenRevoked, Unauthorized
from relay_server.storage import RelayStore

FamilyRevoked = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class AccessGrant:
    """What a valid access token opens: whose it is, its family, until when."""

    device_id: str
    family_id: str
    expires_at: float
    node_id: str  # the Node the device is paired with


@dataclass(frozen=True, kw_only=True)
class IssuedTokens:
    """What a device receives (the only time the plain tokens exist on the Relay)."""

    access_token: str
    refresh_token: str
    expires_in: int


class TokenService:
    """Issue, check, rotate and revoke device tokens."""

    def __init__(
        self,
        store: RelayStore,
        access_ttl_s: int,
        refresh_ttl_s: int,
        on_family_revoked: FamilyRevoked | None = None,
    ) -> None:
        self._store = store
        self._access_ttl = access_ttl_s
        self._refresh_ttl = refresh_ttl_s
        # Told of every family this service revokes, so that the family's open sockets end too.
        self.on_family_revoked = on_family_revoked

    async def _revoke_family(self, family_id: str) -> None:
        await self._store.revoke_family(family_id)
        if self.on_family_revoked is not None:
            await self.on_family_revoked(family_id)

    async def issue(self, device_id: str, family_id: str | None = None) -> IssuedTokens:
        """A fresh access + refresh pair in a (new) family."""
        family = family_id or str(uuid.uuid4())
        now = time.time()
        access, refresh = new_token("at"), new_token("rt")
        await self._store.add_token(
            token_hash(access), "at", device_id, family, now + self._access_ttl
        )
        await self._store.add_token(
            token_hash(refresh), "rt", device_id, family, now + self._refresh_ttl
        )
        return IssuedTokens(access_token=access, refresh_token=refresh, expires_in=self._access_ttl)

    async def _lookup(self, token: str, kind: str) -> tuple[str, str, float, str]:
        """(device id, family id, expiry, node id) of a valid token of `kind`."""
        try:
            if token_kind(token) != kind:
                raise Unauthorized("wrong kind of token")
        except DecodeError:
            raise Unauthorized("not a valid token") from None
        found = await self._store.token_and_device(token_hash(token))
        if found is None:
            raise Unauthorized("unknown token")
        row, device = found
        if row.revoked:
            raise TokenRevoked("this device's access was revoked: pair it again")
        if device is None or device.revoked:
            raise TokenRevoked("this device's access was revoked: pair it again")
        if kind == "rt" and row.replaced:
            await self._revoke_family(row.family_id)
            raise RefreshReused(
                "this refresh token was already used; every token of this device is revoked: pair it again"
            )
        if row.replaced:
            raise TokenExpired("this access token was replaced: use the new one")
        if row.expires_at <= time.time():
            raise TokenExpired("token expired: refresh it")
        return row.device_id, row.family_id, row.expires_at, device.node_id

    async def authenticate(self, access_token: str) -> str:
        """The device id an access token belongs to, or an Unauthorized error saying why."""
        return (await self._lookup(access_token, "at"))[0]

    async def grant(self, access_token: str) -> AccessGrant:
        """What an access token opens (for a socket: its family and expiry), or Unauthorized."""
        device_id, family_id, expires_at, node_id = await self._lookup(access_token, "at")
        return AccessGrant(
            device_id=device_id, family_id=family_id, expires_at=expires_at, node_id=node_id
        )

    async def rotate(self, refresh_token: str) -> tuple[str, IssuedTokens]:
        """Exchange a refresh token for a new pair; a reused one revokes the family."""
        device_id, family, _expires, _node = await self._lookup(refresh_token, "rt")
        if not await self._store.mark_replaced(token_hash(refresh_token)):
            await self._revoke_family(family)  # lost a race with another use of the same token
            raise RefreshReused(
                "this refresh token was already used; every token of this device is revoked"
            )
        await self._store.retire_access_tokens(family)
        return device_id, await self.issue(device_id, family)
