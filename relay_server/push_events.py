"""Which events reach the owner's phones as Web Push, and how a device opts in or out.

Events (each a kind and ids, sent by `relay_server.push.PushSender`, never content):
an approval waiting (the Node says so with `messages.Notify`, its text sealed per device), the
Node away longer than `node_offline_push_s` and then back, the month's Cloud budget
`budget_low_fraction` spent, a device paired or revoked on the account.

Nothing here ever holds routing up: every event is looked up and queued in a task of its own.

HTTP (the web client on its own origin: POST with the token in the body, as elsewhere):
`GET /v1/push/key` the VAPID public key; `POST /v1/push/subscribe` `{token, endpoint, keys}`,
`POST /v1/push/unsubscribe` `{token}`, `POST /v1/push/status` `{token}` for a device;
`GET /v1/push/devices` (Bearer Node credential) which devices get notifications (the tray).
A subscription's endpoint must be one of the configured push services: the Relay POSTs to it,
and must not be made to POST to addresses of an attacker's choosing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Coroutine, Mapping
from urllib.parse import urlsplit

from aiohttp import web

from protocol import messages as m
from protocol.encoding import b64u_decode
from protocol.errors import DecodeError
from protocol.tokens import token_hash
from relay_server.errors import BadRequest, PushRefused, Unauthorized
from relay_server.http_common import json_body
from relay_server.push import PushEvent, PushSender, Subscription
from relay_server.relay import RELAY, Relay

_LOGGER = logging.getLogger(__name__)

NODE_KINDS = frozenset({"approval_waiting"})  # what a Node may ask to be pushed
MAX_IDS = 8
MAX_ID_CHARS = 128
MAX_SEALED_CHARS = 4096
MAX_SEALED_DEVICES = 32
MAX_ENDPOINT_CHARS = 1024


class Notifier:
    """Turns the Relay's events into queued pushes; owns the tasks that look subscriptions up."""

    def __init__(self, relay: Relay, sender: PushSender) -> None:
        self.relay = relay
        self.sender = sender
        self._tasks: set[asyncio.Task[None]] = set()
        self._away: dict[str, asyncio.Task[None]] = {}  # node -> its offline timer, here

    def soon(
        self,
        node_id: str,
        kind: str,
        event_id: str,
        ids: Mapping[str, str] | None = None,
        sealed: Mapping[str, str] | None = None,
        skip: Collection[str] = (),
    ) -> None:
        """Push to the Node's opted-in devices, in the background (the caller never waits)."""
        event = PushEvent(kind=kind, event_id=event_id, ids=dict(ids or {}), sealed=sealed or {})
        self._spawn(self._send(node_id, event, skip))

    async def _send(self, node_id: str, event: PushEvent, skip: Collection[str]) -> None:
        subs = [
            Subscription(device_id=r.device_id, endpoint=r.endpoint, p256dh=r.p256dh, auth=r.auth)
            for r in await self.relay.store.pushes(node_id)
            if r.device_id not in skip
        ]
        self.sender.submit(event, subs)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _LOGGER.error("push event failed: %s", type(task.exception()).__name__)

    async def idle(self) -> None:
        """Everything looked up and delivered so far (tests, bench)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.sender.idle()

    async def close(self) -> None:
        for task in [*self._tasks, *self._away.values()]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._away.values(), return_exceptions=True)
        await self.sender.close()

    # the Node away and back
    def node_left(self, node_id: str) -> None:
        old = self._away.pop(node_id, None)
        if old is not None:
            old.cancel()
        self._away[node_id] = asyncio.create_task(self._away_long(node_id, time.time()))

    async def _away_long(self, node_id: str, left_at: float) -> None:
        await asyncio.sleep(self.relay.settings.node_offline_push_s)
        self._away.pop(node_id, None)
        if await self.relay.node_is_online(node_id):
            return  # back on another instance of the cluster
        event_id = f"node_offline:{node_id}:{left_at:.3f}"
        await self.sender.claims.mark(f"away:{node_id}", event_id)
        self.soon(node_id, "node_offline", event_id, {"node_id": node_id})

    def node_back(self, node_id: str) -> None:
        timer = self._away.pop(node_id, None)
        if timer is not None:
            timer.cancel()
        self._spawn(self._back(node_id))

    async def _back(self, node_id: str) -> None:
        offline_event = await self.sender.claims.take(f"away:{node_id}")
        if offline_event is not None:  # its devices were told it was away: tell them it is back
            event_id = offline_event.replace("node_offline:", "node_online:", 1)
            self.soon(node_id, "node_online", event_id, {"node_id": node_id})

    # the Node asks (an approval waiting)
    async def from_node(self, node_id: str, msg: m.Notify) -> str:
        """Check a Node's Notify and queue it; an error text for the Node, or ''."""
        if msg.kind not in NODE_KINDS:
            return f"a Node may not push {msg.kind!r}"
        strings = [msg.event_id, *msg.ids, *msg.ids.values(), *msg.sealed]
        if len(msg.ids) > MAX_IDS or any(not s or len(s) > MAX_ID_CHARS for s in strings):
            return "notify: too many or too long ids"
        if len(msg.sealed) > MAX_SEALED_DEVICES or any(
            len(v) > MAX_SEALED_CHARS for v in msg.sealed.values()
        ):
            return "notify: too many or too long sealed texts"
        # The ids name this Node and the event id starts with it, so one Node's events can
        # never collide with (and so swallow) another's in the once-per-device claims. The
        # Relay checks rather than rewrites: the sealed text is bound to the ids as sent.
        if msg.ids.get("node_id") != node_id or not msg.event_id.startswith(f"{node_id}:"):
            return "notify: the event must name this Node"
        self.soon(node_id, msg.kind, msg.event_id, msg.ids, msg.sealed)
        return ""

    # the Cloud budget
    def budget_checked(self, device_id: str, left_nusd: int) -> None:
        self._spawn(self._budget(device_id, left_nusd))

    async def _budget(self, device_id: str, left_nusd: int) -> None:
        device = await self.relay.store.device(device_id)
        if device is None:
            return
        account = await self.relay.billing.account(device.node_id)
        spent = account.budget_nusd - left_nusd
        if account.budget_nusd <= 0 or spent < self.relay.settings.budget_low_fraction * (
            account.budget_nusd
        ):
            return
        month = time.strftime("%Y-%m", time.gmtime())
        # One event id per account and month: each device hears of it once (claims last a day).
        node_id = device.node_id
        self.soon(node_id, "budget_low", f"budget_low:{node_id}:{month}", {"month": month})


NOTIFIER = web.AppKey("notifier", Notifier)


def allowed_endpoint(url: str, services: Collection[str]) -> bool:
    """Is url on one of the configured push services (scheme, host or *.suffix, port)?"""
    try:
        got = urlsplit(url)
        port = got.port
    except ValueError:
        return False
    if got.username or got.password or not got.hostname or len(url) > MAX_ENDPOINT_CHARS:
        return False
    defaults = {"https": 443, "http": 80}
    for service in services:
        want = urlsplit(service)
        if not want.hostname or got.scheme != want.scheme:
            continue
        if (port or defaults.get(got.scheme)) != (want.port or defaults.get(want.scheme)):
            continue
        host = want.hostname
        if got.hostname == host or (host.startswith("*.") and got.hostname.endswith(host[1:])):
            return True
    return False


def _key_bytes(value: object, size: int, name: str) -> str:
    try:
        raw = b64u_decode(value) if isinstance(value, str) and len(value) < 200 else b""
    except DecodeError:
        raw = b""
    if len(raw) != size or (size == 65 and raw[0] != 4):
        raise BadRequest(f"keys.{name} is not a push subscription key")
    return str(value)


async def _owner_device(relay: Relay, token: str) -> tuple[str, str]:
    """(device id, node id) of an owner device's access token."""
    grant = await relay.tokens.grant(token)
    device = await relay.store.device(grant.device_id)
    if device is None or device.revoked:
        raise Unauthorized("this device is not paired")
    if device.role != "owner":
        raise PushRefused("only the owner's devices receive notifications")
    return grant.device_id, device.node_id


async def push_key(request: web.Request) -> web.Response:
    return web.json_response(
        {"application_server_key": request.app[NOTIFIER].sender.key.application_server_key}
    )


async def subscribe(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    body = await json_body(request, "token", "endpoint")
    device_id, node_id = await _owner_device(relay, body["token"])
    if not allowed_endpoint(body["endpoint"], relay.settings.push_services):
        raise PushRefused("that push service is not one this Relay sends to")
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise BadRequest("keys must be an object with p256dh and auth")
    sub = (
        body["endpoint"],
        _key_bytes(keys.get("p256dh"), 65, "p256dh"),
        _key_bytes(keys.get("auth"), 16, "auth"),
    )
    await relay.store.set_push(device_id, node_id, sub)
    await relay.store.audit("push_subscribed", node_id=node_id, device_id=device_id)
    return web.json_response({"enabled": True})


async def unsubscribe(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    body = await json_body(request, "token")
    device_id, node_id = await _owner_device(relay, body["token"])
    await relay.store.remove_push(device_id)
    await relay.store.audit("push_unsubscribed", node_id=node_id, device_id=device_id)
    return web.json_response({"enabled": False})


async def status(request: web.Request) -> web.Response:
    relay = request.app[RELAY]
    body = await json_body(request, "token")
    device_id, node_id = await _owner_device(relay, body["token"])
    enabled = any(row.device_id == device_id for row in await relay.store.pushes(node_id))
    return web.json_response({"enabled": enabled})


async def devices(request: web.Request) -> web.Response:
    """The Node's devices that get notifications (the tray's Devices dialog)."""
    relay = request.app[RELAY]
    credential = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    found = await relay.store.node_by_credential(token_hash(credential))
    if found is None:
        raise Unauthorized("unknown Node credential")
    return web.json_response(
        {"devices": sorted({r.device_id for r in await relay.store.pushes(found.node_id)})}
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/push/key", push_key)
    app.router.add_post("/v1/push/subscribe", subscribe)
    app.router.add_post("/v1/push/unsubscribe", unsubscribe)
    app.router.add_post("/v1/push/status", status)
    app.router.add_get("/v1/push/devices", devices)
