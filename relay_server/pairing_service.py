"""Pairing sessions on the Relay: one-time, short-lived, rate-limited, locked after failures.

The Relay checks only the device's proof (derived one-way from the secret, see
protocol.pairing); the Node decrypts the request and checks the secret itself.
"""

from __future__ import annotations

import time

from protocol.pairing import proof_matches
from protocol.pairing_states import REFUSALS, PairingEvent, PairingState, next_state
from relay_server.errors import BadRequest, PairingLocked, PairingRefused, RateLimited
from relay_server.rate_limit import RateLimiter
from relay_server.storage import RelayStore


class PairingService:
    """Open pairings and check attempts at them."""

    def __init__(
        self,
        store: RelayStore,
        *,
        max_ttl_s: int,
        max_attempts: int,
        ip_per_minute: int,
        max_keys: int = 100_000,
    ) -> None:
        self._store = store
        self._max_ttl = max_ttl_s
        self._max_attempts = max_attempts
        # Keyed on the client's real address (see rate_limit.client_address), IPv6 by /64.
        self._attempts = RateLimiter(ip_per_minute, 60.0, max_keys=max_keys)

    async def open(
        self, *, node_id: str, pairing_id: str, verifier: str, ttl_s: int, role: str
    ) -> float:
        """Register a pairing the Node opened; returns its expiry time."""
        if not 10 <= ttl_s <= self._max_ttl:
            raise BadRequest(f"pairing lifetime must be 10..{self._max_ttl} s")
        if (
            role not in ("owner", "sub-admin", "guest")
            or len(verifier) != 64
            or not 8 <= len(pairing_id) <= 64
        ):
            raise BadRequest("malformed pairing")
        expires = time.time() + ttl_s
        await self._store.add_pairing(pairing_id, node_id, verifier, role, expires)
        return expires

    def _rate_limit(self, source: str) -> None:
        if not self._attempts.allow(source):
            raise RateLimited("too many pairing attempts from this address: wait a minute")

    async def lookup(self, *, pairing_id: str, source: str) -> str:
        """For a typed code: which Node an open pairing belongs to (rate-limited like attempts)."""
        self._rate_limit(source)
        row = await self._store.pairing(pairing_id)
        if row is not None and row.state == PairingState.LOCKED:
            raise PairingLocked(REFUSALS[PairingState.LOCKED])
        if row is None or row.state != PairingState.OPEN or row.expires_at <= time.time():
            raise PairingRefused(
                "no open pairing has this code: check it, or make a new one on your PC"
            )
        return row.node_id

    async def apply(self, pairing_id: str, event: PairingEvent) -> PairingState:
        """Move a pairing along the one transition table (protocol.pairing_states)."""
        row = await self._store.pairing(pairing_id)
        if row is None:
            raise PairingRefused("this pairing code is unknown: ask for a new one on your PC")
        state = next_state(row.state, event)
        await self._store.set_pairing_state(pairing_id, state.value)
        return state

    async def claim(self, *, pairing_id: str, proof: str, source: str) -> tuple[str, str]:
        """Check an attempt; on success the pairing is claimed (single use). Returns (node_id, role)."""
        self._rate_limit(source)
        row = await self._store.pairing(pairing_id)
        if row is None:
            raise PairingRefused("this pairing code is unknown: ask for a new one on your PC")
        if row.state == PairingState.LOCKED:
            raise PairingLocked(REFUSALS[PairingState.LOCKED])
        if row.state != PairingState.OPEN:
            raise PairingRefused(REFUSALS.get(PairingState(row.state), REFUSALS[PairingState.USED]))
        if row.expires_at <= time.time():
            raise PairingRefused("this pairing code has expired: make a new one on your PC")
        if not proof_matches(proof, row.verifier):
            attempts = await self._store.count_failed_attempt(pairing_id, self._max_attempts)
            if attempts >= self._max_attempts:
                raise PairingLocked(
                    "wrong pairing secret; the pairing is now locked: make a new code on your PC"
                )
            raise PairingRefused("wrong pairing secret")
        if not await self._store.claim_pairing(pairing_id):
            raise PairingRefused("this pairing code was already used: make a new one on your PC")
        return row.node_id, row.role
