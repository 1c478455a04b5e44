"""The Relay's HTTP API: health, Node registration, pairing and token refresh.

Refusals are raised as `RelayError`s and answered by `http_common.refusals`.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from protocol import cloud
from protocol import messages as m
from protocol.encoding import b64u_decode
from protocol.errors import DecodeError
from protocol.pairing_states import PairingEvent
from protocol.tokens import new_token, token_hash
from protocol.version import PROTOCOL_VERSION
from relay_server import cluster as bus
from relay_server.errors import (
    BadRequest,
    NodeOffline,
    PairingRefused,
    RateLimited,
    RelayError,
    Unauthorized,
)
from relay_server.http_common import REFUSAL_NODE, allowed_origin, json_body, source
from relay_server.relay import RELAY, Relay


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": PROTOCOL_VERSION})


async def readyz(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    ready = await relay.store.ping() and (relay.cluster is None or await relay.cluster.ping())
    return web.json_response({"ready": ready}, status=200 if ready else 503)


async def register_node(request: web.Request) -> web.Response:
    """A Node's first start: it gets an id and a credential (stored here only as a hash)."""
    relay = request.app[RELAY]
    # Free to call, so limited per client address: a loop of registrations gets nothing.
    if not relay.registrations.allow(source(request)):
        wait = max(1, round(relay.registrations.retry_after(source(request)) / 60))
        raise RateLimited(
            f"too many PCs registered from this address: try again in {wait} minute(s)"
        )
    body = await json_body(request, "public_key")
    try:
        b64u_decode(body["public_key"], length=32)
    except DecodeError:
        raise BadRequest("public_key must be 32 bytes") from None
    node_id = str(uuid.uuid4())
    while await relay.store.device(node_id) is not None:  # never a device's id (see pairing)
        node_id = str(uuid.uuid4())
    credential = new_token("nd")
    await relay.store.add_node(node_id, token_hash(credential), body["public_key"])
    await relay.billing.account(node_id)  # the owner's account, with the configured plan
    await relay.store.audit("node_registered", node_id=node_id, source=source(request))
    return web.json_response({"node_id": node_id, "node_token": credential})


async def pair(request: web.Request) -> web.Response:
    """A device's pairing request: proof checked here, the sealed request decided by the Node."""
    relay = request.app[RELAY]
    try:
        return await _pair(request, relay)
    except RelayError as err:
        relay.metrics.pairings.labels("failed").inc()
        await relay.store.audit(
            "pairing_failed",
            node_id=request.get(REFUSAL_NODE, ""),
            source=source(request),
            detail=err.code,
        )
        raise


async def _pair(request: web.Request, relay: Relay) -> web.Response:
    if not allowed_origin(request):
        raise Unauthorized("this page's origin may not pair with this Relay")
    body = await json_body(request, "pairing_id", "proof", "sealed")
    pairing_id = body["pairing_id"]
    node_id, role = await relay.pairings.claim(
        pairing_id=pairing_id, proof=body["proof"], source=source(request)
    )
    request[REFUSAL_NODE] = node_id
    try:
        await relay.billing.require_active(node_id)  # pairing is part of the Relay plan
    except RelayError:
        await relay.pairings.apply(pairing_id, PairingEvent.RELEASE)  # usable once paid
        raise
    decision = await _ask_node(relay, node_id, pairing_id, body["sealed"])
    if not decision.accepted:
        await relay.pairings.apply(pairing_id, PairingEvent.REFUSE)
        relay.metrics.pairings.labels("refused").inc()
        await relay.store.audit(
            "pairing_refused",
            node_id=node_id,
            source=source(request),
            detail=decision.reason[:200],
        )
        return web.json_response(
            {
                "error": "pairing_refused",
                "message": decision.reason or "your PC refused the pairing",
            },
            status=403,
        )
    try:
        device_id = str(uuid.UUID(decision.device_id))
    except ValueError:
        raise BadRequest("the Node answered with an invalid device id") from None
    if not await _device_id_free(relay, device_id):
        # A Node naming a device after another Node (or another's device, or the Cloud) would
        # be handed that peer's traffic: refused, and the pairing is spent.
        await relay.pairings.apply(pairing_id, PairingEvent.REFUSE)
        raise PairingRefused("your PC chose a device id that is taken: pair again")
    try:
        await relay.store.add_device(device_id, node_id, role)
    except Exception:  # the unique key: another pairing took the id meanwhile
        await relay.pairings.apply(pairing_id, PairingEvent.REFUSE)
        raise PairingRefused("your PC chose a device id that is taken: pair again") from None
    issued = await relay.tokens.issue(device_id)
    await relay.pairings.apply(pairing_id, PairingEvent.ACCEPT)
    relay.metrics.pairings.labels("paired").inc()
    audit = {"node_id": node_id, "device_id": device_id, "source": source(request)}
    await relay.store.audit("pairing_succeeded", **audit, detail=role)
    await relay.store.audit("token_issued", **audit)
    if relay.notifier is not None:  # the owner's other devices hear of the new one
        ids = {"device_id": device_id, "role": role}
        relay.notifier.soon(node_id, "device_paired", f"device_paired:{device_id}", ids)
    return web.json_response(
        {
            "device_id": device_id,
            "node_id": node_id,
            "role": role,
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "answer": decision.answer,
        }
    )


async def _device_id_free(relay: Relay, device_id: str) -> bool:
    """Not a Node's id, not another device's, not reserved (the Cloud's, the nil id)."""
    if device_id in (cloud.CLOUD_PEER_ID, str(uuid.UUID(int=0))):
        return False
    if await relay.store.node_public_key(device_id) is not None:
        return False
    return await relay.store.device(device_id) is None


async def _ask_node(relay: Relay, node_id: str, pairing_id: str, sealed: str) -> m.PairDecision:
    """Pass the sealed request to the Node (wherever it is connected) and wait for its answer."""
    request_id = secrets.token_urlsafe(12)
    future: asyncio.Future[m.PairDecision] = asyncio.get_running_loop().create_future()
    relay.decisions[request_id] = future
    if relay.cluster is not None:
        await relay.cluster.subscribe(bus.decision_channel(request_id), _decision_receiver(future))
    try:
        request_msg = m.PairRequest(pairing_id=pairing_id, request_id=request_id, sealed=sealed)
        if not await relay.to_node(node_id, request_msg):
            await relay.pairings.apply(pairing_id, PairingEvent.RELEASE)  # owner may retry
            raise NodeOffline("your PC is offline: start ORA on it and try again")
        return await asyncio.wait_for(future, relay.settings.pair_decision_timeout_s)
    except TimeoutError:
        await relay.pairings.apply(pairing_id, PairingEvent.TIME_OUT)
        raise NodeOffline("your PC did not answer the pairing in time") from None
    finally:
        relay.decisions.pop(request_id, None)
        if relay.cluster is not None:
            await relay.cluster.unsubscribe(bus.decision_channel(request_id))


def _decision_receiver(
    future: asyncio.Future[m.PairDecision],
) -> Callable[[bytes], Awaitable[None]]:
    async def receive(data: bytes) -> None:
        decision = m.decode_as(data, m.PairDecision)
        if not future.done():
            future.set_result(decision)

    return receive


async def refresh(request: web.Request) -> web.Response:
    """Rotate a refresh token; a reused one revokes the device's whole token family."""
    relay = request.app[RELAY]
    body = await json_body(request, "refresh_token")
    try:
        device_id, issued = await relay.tokens.rotate(body["refresh_token"])
    except RelayError as err:
        if err.code == "refresh_reused":
            await relay.store.audit(
                "token_family_revoked", source=source(request), detail="refresh token reuse"
            )
        raise
    await relay.store.audit("token_rotated", device_id=device_id, source=source(request))
    return web.json_response(
        {
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
        }
    )
