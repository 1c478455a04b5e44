"""The Node's side of pairing: open pairings, the typed code's SPAKE2 step, and the decision.

The Node trusts the Relay for nothing here. A QR pairing's secret and key travel in the QR;
a typed code's travel inside the SPAKE2 reply (protocol.code_pairing), which only a device
holding the code can open. Every code attempt is counted here, on the Node, so a Relay cannot
retry guesses by hiding failures: after MAX_CODE_ATTEMPTS the pairing is closed.

    open --pake (attempt n <= max)--> open (sas key kept) --request + owner yes--> paired
      |--pake (attempt > max)--> closed ("locked")           |--owner no / timeout--> closed
      |--expires--> closed
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.link.devices import DeviceRegistry
from app.link.identity import NodeIdentity
from protocol import code_pairing, pairing
from protocol import messages as m
from protocol.encoding import b64u_decode, b64u_encode
from protocol.errors import DecodeError, PairingError

_LOGGER = logging.getLogger(__name__)
PAIRING_TTL_S = 300
# Asked with (verification code, device name, role); True when the owner saw the same code.
ConfirmPairing = Callable[[str, str, str], Awaitable[bool]]
CONFIRM_TIMEOUT_S = 50.0  # inside the Relay's 60 s wait for our decision
LOCKED = "this pairing is locked after too many wrong codes: make a new code on your PC"


@dataclass
class OpenPairing:
    """A pairing this Node opened and has not yet used up."""

    secret: bytes
    role: str
    expires_at: float
    code: str = ""  # a typed code: the device learns our key through SPAKE2 over it
    attempts: int = 0
    sas_key: bytes = b""  # from the latest SPAKE2 attempt


@dataclass
class PairingDesk:
    """Open pairings and the decisions on them; the link sends what these methods return."""

    identity: NodeIdentity
    registry: DeviceRegistry
    node_name: str
    # Why this profile would refuse a role today (a guest on the private profile), or None.
    refuse_role: Callable[[str], str | None] = lambda role: None
    pairings: dict[str, OpenPairing] = field(default_factory=dict)

    def open_qr(
        self, role: str, ttl_s: int, relay_url: str
    ) -> tuple[m.PairOpen, pairing.PairingInvite]:
        """A one-time QR pairing: what to tell the Relay, and the invite for the QR."""
        secret = pairing.new_secret()
        pairing_id = secrets.token_urlsafe(12)
        self.pairings[pairing_id] = OpenPairing(
            secret=secret, role=role, expires_at=time.time() + ttl_s
        )
        invite = pairing.PairingInvite(
            relay_url=relay_url,
            node_id=self.identity.node_id,
            pairing_id=pairing_id,
            secret=secret,
            node_public_key=self.identity.public_key,
        )
        return self._open_message(pairing_id, role, ttl_s), invite

    def open_code(self, role: str, ttl_s: int) -> tuple[m.PairOpen, str]:
        """A typed-code pairing: what to tell the Relay, and the code to show the owner."""
        code = pairing.new_code()
        while pairing.code_pairing_id(code) in self.pairings:  # a fresh nameplate of our own
            code = pairing.new_code()
        pairing_id = pairing.code_pairing_id(code)
        self.pairings[pairing_id] = OpenPairing(
            secret=pairing.new_secret(), role=role, expires_at=time.time() + ttl_s, code=code
        )
        return self._open_message(pairing_id, role, ttl_s), code

    def _open_message(self, pairing_id: str, role: str, ttl_s: int) -> m.PairOpen:
        secret = self.pairings[pairing_id].secret
        return m.PairOpen(
            pairing_id=pairing_id, verifier=pairing.relay_verifier(secret), ttl_s=ttl_s, role=role
        )

    def answer_pake(self, msg: m.PairPake) -> m.PairPakeReply:
        """One SPAKE2 attempt at a typed code; every one counts, right code or not."""

        def refuse(reason: str, *, locked: bool = False) -> m.PairPakeReply:
            _LOGGER.warning("code pairing attempt refused: %s", reason)
            return m.PairPakeReply(
                pairing_id=msg.pairing_id, request_id=msg.request_id, locked=locked, reason=reason
            )

        open_pairing = self.pairings.get(msg.pairing_id)
        if open_pairing is None or not open_pairing.code:
            return refuse("this PC has no such pairing open: make a new code on your PC")
        if open_pairing.expires_at <= time.time():
            del self.pairings[msg.pairing_id]
            return refuse("this pairing code has expired: make a new one on your PC")
        open_pairing.attempts += 1
        open_pairing.sas_key = b""  # only the latest attempt may lead on
        if open_pairing.attempts > code_pairing.MAX_CODE_ATTEMPTS:
            del self.pairings[msg.pairing_id]
            return refuse(LOCKED, locked=True)
        try:
            reply, sas_key = code_pairing.node_reply(
                typed=open_pairing.code,
                device_message=b64u_decode(msg.pake),
                pairing_id=msg.pairing_id,
                node_id=self.identity.node_id,
                node_public_key=self.identity.public_key,
                secret=open_pairing.secret,
            )
        except (PairingError, DecodeError) as err:
            return refuse(str(err))
        open_pairing.sas_key = sas_key
        return m.PairPakeReply(
            pairing_id=msg.pairing_id, request_id=msg.request_id, reply=b64u_encode(reply)
        )

    async def decide(self, msg: m.PairRequest, confirm: ConfirmPairing | None) -> m.PairDecision:
        """Check a sealed pairing request (and, for a typed code, the owner's yes)."""

        def refuse(reason: str) -> m.PairDecision:
            _LOGGER.warning("pairing refused: %s", reason)
            return m.PairDecision(
                pairing_id=msg.pairing_id, request_id=msg.request_id, accepted=False, reason=reason
            )

        open_pairing = self.pairings.get(msg.pairing_id)
        try:
            request = pairing.open_request(
                node_private_key=self.identity.private_key, sealed=b64u_decode(msg.sealed)
            )
        except (PairingError, DecodeError):
            return refuse("the request was not sealed to this PC's key")
        if open_pairing is None or request.pairing_id != msg.pairing_id:
            return refuse("this PC has no such pairing open")
        if open_pairing.expires_at <= time.time():
            return refuse("this pairing code has expired")
        if not pairing.secret_matches(request, open_pairing.secret):
            return refuse("wrong pairing secret")
        del self.pairings[msg.pairing_id]  # single use: a second request cannot wait here too
        if why := self.refuse_role(open_pairing.role):
            return refuse(why)
        if open_pairing.code and not await self._confirmed(request, open_pairing, confirm):
            return refuse("the owner did not confirm the verification code on the PC")
        device_id = str(uuid.uuid4())
        self.registry.add(
            device_id=device_id,
            name=request.device_name or "device",
            role=open_pairing.role,
            public_key=request.device_public_key,
        )
        answer = pairing.seal_answer(
            node_private_key=self.identity.private_key,
            device_public_key=request.device_public_key,
            answer={
                "pairing_id": msg.pairing_id,
                "device_id": device_id,
                "node_id": self.identity.node_id,
                "node_name": self.node_name,
                "role": open_pairing.role,
            },
        )
        _LOGGER.info("paired device %s (%s)", device_id, open_pairing.role)
        return m.PairDecision(
            pairing_id=msg.pairing_id,
            request_id=msg.request_id,
            accepted=True,
            device_id=device_id,
            role=open_pairing.role,
            answer=b64u_encode(answer),
        )

    async def _confirmed(
        self,
        request: pairing.PairingRequest,
        open_pairing: OpenPairing,
        confirm: ConfirmPairing | None,
    ) -> bool:
        """Show the verification code on the PC and wait for the owner to compare it."""
        if confirm is None or not open_pairing.sas_key:
            return False
        code = code_pairing.verification_code(
            open_pairing.sas_key, self.identity.public_key, request.device_public_key
        )
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT_S):
                return await confirm(code, request.device_name, open_pairing.role)
        except TimeoutError:
            return False
