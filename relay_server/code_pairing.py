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

from aiohttp import web

from protocol import messages as m
from protocol.pairing_states import PairingEvent
from relay_server import cluster as bus
from relay_server.errors import NodeOffline, PairingLocked, PairingRefused, RelayError, Unauthorized
from relay_server.http_common import allowed_origin, json_body, source
from relay_server.relay import RELAY, Relay

_MAX_PAKE = 64  # base64url of the 33-byte SPAKE2 message is 44 characters


async def pair_code(request: web.Request) -> web.Response:
    """POST /v1/pair/code: one attempt; refusals are raised (http_common answers and audits)."""
    relay = request.app[RELAY]
    try:
        if not allowed_origin(request):
            raise Unauthorized("this page's origin may not pair with this Relay")
        body = await json_body(request, "pairing_id", "pake")
        node_id, reply = await exchange(
            relay, pairing_id=body["pairing_id"], pake=body["pake"], source=source(request)
        )
    except RelayError:
        relay.metrics.pairings.labels("failed").inc()
        raise
    await relay.store.audit("pairing_code_attempt", node_id=node_id, source=source(request))
    return web.json_response({"reply": reply})


async def exchange(relay: Relay, *, pairing_id: str, pake: str, source: str) -> tuple[str, str]:
    """Pass one SPAKE2 attempt to the Node; returns (node_id, the Node's opaque reply)."""
    if not 1 <= len(pake) <= _MAX_PAKE:
        raise PairingRefused("this pairing message is malformed")
    node_id: str = await relay.pairings.lookup(pairing_id=pairing_id, source=source)
    request_id = secrets.token_urlsafe(12)
    future: asyncio.Future[m.PairPakeReply] = asyncio.get_running_loop().create_future()
    relay.pake_replies[request_id] = future
    if relay.cluster is not None:
        await relay.cluster.subscribe(bus.decision_channel(request_id), _reply_receiver(future))
    try:
        ask = m.PairPake(pairing_id=pairing_id, request_id=request_id, pake=pake)
        if not await relay.to_node(node_id, ask):
            raise NodeOffline("your PC is offline: start ORA on it and try again")
        reply = await asyncio.wait_for(future, relay.settings.pair_decision_timeout_s)
    except TimeoutError:
        raise NodeOffline("your PC did not answer the pairing in time") from None
    finally:
        relay.pake_replies.pop(request_id, None)
        if relay.cluster is not None:
            await relay.cluster.unsubscribe(bus.decision_channel(request_id))
    if reply.locked:
        await relay.pairings.apply(pairing_id, PairingEvent.LOCK)
        raise PairingLocked(reply.reason or "this pairing is locked: make a new code on your PC")
    if not reply.reply:
        raise PairingRefused(reply.reason or "your PC refused this pairing code")
    return node_id, reply.reply


async def deliver(relay: Relay, reply: m.PairPakeReply) -> None:
    """A Node's reply: to the waiting device request here, or to the instance holding it."""
    future = relay.pake_replies.get(reply.request_id)
    if future is not None and not future.done():
        future.set_result(reply)
    elif future is None and relay.cluster is not None:
        await relay.cluster.publish(
            bus.decision_channel(reply.request_id), m.encode(reply).encode()
        )


def _reply_receiver(
    future: asyncio.Future[m.PairPakeReply],
) -> Callable[[bytes], Awaitable[None]]:
    async def receive(data: bytes) -> None:
        reply = m.decode_as(data, m.PairPakeReply)
        if not future.done():
            future.set_result(reply)

    return receive
