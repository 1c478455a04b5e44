"""Typed-code pairing at the Relay: the device's SPAKE2 message to the Node, its reply back.

The Relay cannot read or test anything here (protocol/code_pairing.py says why): it finds the
pairing by the id the code's nameplate gives, rate-limits attempts per source like any other
pairing attempt, and marks the pairing locked when the Node says it counted too many codes.

    device --POST /v1/pair/code {pairing_id, pake}--> Relay --PairPake--> Node
    device <-- 200 {reply} | 403 pairing_refused / pairing_locked -- Relay <--PairPakeReply--
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from protocol import messages as m
from protocol.pairing_states import PairingEvent
from relay_server.errors import NodeOffline, PairingLocked, PairingRefused

_MAX_PAKE = 64  # base64url of the 33-byte SPAKE2 message is 44 characters


class _Relay(Protocol):
    """What this module needs of the Relay's shared state."""

    pairings: Any
    store: Any
    settings: Any
    cluster: Any
    pake_replies: dict[str, asyncio.Future[m.PairPakeReply]]

    async def to_peer(self, peer_id: str, message: m.Message) -> bool: ...


async def exchange(relay: _Relay, *, pairing_id: str, pake: str, source: str) -> tuple[str, str]:
    """Pass one SPAKE2 attempt to the Node; returns (node_id, the Node's opaque reply)."""
    if not 1 <= len(pake) <= _MAX_PAKE:
        raise PairingRefused("this pairing message is malformed")
    node_id: str = await relay.pairings.lookup(pairing_id=pairing_id, source=source)
    request_id = secrets.token_urlsafe(12)
    future: asyncio.Future[m.PairPakeReply] = asyncio.get_running_loop().create_future()
    relay.pake_replies[request_id] = future
    if relay.cluster is not None:
        await relay.cluster.subscribe(f"d:{request_id}", _reply_receiver(future))
    try:
        ask = m.PairPake(pairing_id=pairing_id, request_id=request_id, pake=pake)
        if not await relay.to_peer(node_id, ask):
            raise NodeOffline("your PC is offline: start ORA on it and try again")
        reply = await asyncio.wait_for(future, relay.settings.pair_decision_timeout_s)
    except TimeoutError:
        raise NodeOffline("your PC did not answer the pairing in time") from None
    finally:
        relay.pake_replies.pop(request_id, None)
        if relay.cluster is not None:
            await relay.cluster.unsubscribe(f"d:{request_id}")
    if reply.locked:
        await relay.pairings.apply(pairing_id, PairingEvent.LOCK)
        raise PairingLocked(reply.reason or "this pairing is locked: make a new code on your PC")
    if not reply.reply:
        raise PairingRefused(reply.reason or "your PC refused this pairing code")
    return node_id, reply.reply


async def deliver(relay: _Relay, reply: m.PairPakeReply) -> None:
    """A Node's reply: to the waiting device request here, or to the instance holding it."""
    future = relay.pake_replies.get(reply.request_id)
    if future is not None and not future.done():
        future.set_result(reply)
    elif future is None and relay.cluster is not None:
        await relay.cluster.publish(f"d:{reply.request_id}", m.encode(reply).encode())


def _reply_receiver(
    future: asyncio.Future[m.PairPakeReply],
) -> Callable[[bytes], Awaitable[None]]:
    async def receive(data: bytes) -> None:
        reply = m.decode_as(data, m.PairPakeReply)
        if not future.done():
            future.set_result(reply)

    return receive
