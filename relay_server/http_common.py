"""What the Relay's HTTP handlers share: the refusal and header middlewares, JSON bodies,
the caller's address and the browser-origin rule.

A handler refuses by raising a `RelayError`; `refusals` turns it into the counted and audited
refusal (metadata only) and the JSON body `{"error": code, "message": text}` with its status.
A handler that knows which Node a refusal concerns says so with `request[REFUSAL_NODE]`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from relay_server.errors import BadRequest, RelayError
from relay_server.rate_limit import Network, client_address, parse_networks
from relay_server.relay import RELAY

REFUSAL_NODE = web.RequestKey("refusal_node", str)
MAX_JSON_BODY = 16 * 1024
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

_Handler = TypeVar("_Handler", bound=Callable[..., Awaitable[web.StreamResponse]])
_LONG_LIVED: set[object] = set()


def long_lived(handler: _Handler) -> _Handler:
    """Mark a handler whose coroutine lasts as long as its connection (the WebSocket): the
    middlewares hand its coroutine on without awaiting it, so none of their frames is held
    for each of 100k idle sockets (~1 KB per connection). Such a handler refuses, audits and
    sets `SECURITY_HEADERS` on its own answers itself."""
    _LONG_LIVED.add(handler)
    return handler


def _is_long_lived(request: web.Request) -> bool:
    return request.match_info.handler in _LONG_LIVED


def source(request: web.Request) -> str:
    """The client's real address (X-Forwarded-For only from configured trusted proxies)."""
    return client_address(request, _proxies(request.app[RELAY].settings.trusted_proxies))


@functools.cache
def _proxies(specs: tuple[str, ...]) -> tuple[Network, ...]:
    return parse_networks(specs)


def error_response(err: RelayError) -> web.Response:
    return web.json_response({"error": err.code, "message": err.message}, status=err.status)


@web.middleware
def refusals(request: web.Request, handler: Any) -> Awaitable[web.StreamResponse]:
    if _is_long_lived(request):
        return handler(request)
    return _refusals(request, handler)


async def _refusals(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
    except RelayError as err:
        await request.app[RELAY].refuse(
            err, source=source(request), node_id=request.get(REFUSAL_NODE, "")
        )
        return error_response(err)
    return response


@web.middleware
def security_headers(request: web.Request, handler: Any) -> Awaitable[web.StreamResponse]:
    if _is_long_lived(request):
        return handler(request)
    return _security_headers(request, handler)


async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    resp: web.StreamResponse = await handler(request)
    for name, value in SECURITY_HEADERS.items():
        resp.headers.setdefault(name, value)
    if request.path.startswith("/app"):
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self'; frame-ancestors 'none'",
        )
    return resp


async def json_body(request: web.Request, *fields: str) -> dict[str, Any]:
    """The request's JSON object, with these string fields (BadRequest otherwise)."""
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise BadRequest("request body too large")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body must be JSON") from None
    if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
        raise BadRequest(f"body must be an object with string fields {list(fields)}")
    return body


def allowed_origin(request: web.Request) -> bool:
    """Browsers send Origin; it must be the Relay itself or a configured origin."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (the Node, a native client): nothing to hijack
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in request.app[RELAY].settings.public_origins
