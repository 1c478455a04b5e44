"""Serving the web client: a small static server for its own origin (`app.<domain>`), apart
from the Relay (`relay.<domain>`), so the Relay's routing process need not serve code.

    ora-web --dir WEB_BUNDLE --relay https://relay.example.org [--host H] [--port P]

It serves a signed bundle (`python -m installer.release web`) as it is, at `/`, with a strict
CSP whose connect-src names only its own origin and the configured Relays, and a `config.json`
telling the client which Relays it may pair with. The installed client's service worker then
keeps the files and takes new ones only when signed by ORA's release key (assets/web/sw.js);
this server is trusted only for the first visit. The Relay's `/app/` (the embedded local Relay
of `make run`) uses `add_routes` with the same headers.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

_LOGGER = logging.getLogger(__name__)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) origin")
    return f"{parts.scheme}://{parts.netloc}"


def csp(relays: tuple[str, ...] = ()) -> str:
    """The client's Content-Security-Policy: its own code only, talking only to its Relays."""
    connect = ["'self'"]
    for relay in relays:
        origin = _origin(relay)
        connect += [origin, "ws" + origin.removeprefix("http")]
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; manifest-src 'self'; worker-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _headers(policy: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Every visit revalidates, so the service worker's checks see what the server serves.
        "Cache-Control": "no-cache",
    }


def add_routes(app: web.Application, web_dir: Path, prefix: str, relays: tuple[str, ...]) -> None:
    """Serve web_dir under prefix (ending in /): index.html at prefix, files by name."""
    root = web_dir.resolve()
    policy = csp(relays)
    config = json.dumps({"relays": [_origin(r) for r in relays]}).encode()

    async def serve(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("name", "") or "index.html"
        if name == "config.json":
            return web.Response(
                body=config, content_type="application/json", headers=_headers(policy)
            )
        path = (root / name).resolve()
        hidden = any(part.startswith(".") for part in name.split("/"))
        if hidden or not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound()
        resp = web.FileResponse(path, headers=_headers(policy))
        if path.suffix == ".json" and path.name == "manifest.json":
            resp.content_type = "application/manifest+json"
        return resp

    app.router.add_get(prefix, serve)
    app.router.add_get(prefix + "{name:.+}", serve)


def cors(origins: tuple[str, ...]) -> Any:
    """A Relay middleware: the web client on its own origin (one of `origins`) may call the
    Relay's HTTP API (pairing, token refresh, the Cloud's key). No credentials are involved
    (the client sends tokens in bodies, never cookies), and the WebSocket checks Origin itself."""
    allowed = frozenset(origins)

    @web.middleware
    def middleware(request: web.Request, handler: Any) -> Awaitable[web.StreamResponse]:
        origin = request.headers.get("Origin", "")
        if origin not in allowed or not request.path.startswith("/v1/") or request.path == "/v1/ws":
            # Handed on, not awaited: a WebSocket's handler lives as long as its socket, and
            # this frame would be held beside it for each of 100k idle sockets.
            return handler(request)
        return _with_cors(request, handler, origin)

    return middleware


async def _with_cors(request: web.Request, handler: Any, origin: str) -> web.StreamResponse:
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if request.method == "OPTIONS":
        return web.Response(
            status=204,
            headers={
                **headers,
                "Access-Control-Allow-Methods": "GET, POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
            },
        )
    try:
        resp: web.StreamResponse = await handler(request)
    except web.HTTPException as err:
        err.headers.update(headers)
        raise
    resp.headers.update(headers)
    return resp


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    """What the client's own server is configured with."""

    web_dir: Path
    relays: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 8480


def create_web_app(settings: WebSettings) -> web.Application:
    """The web client's own origin: nothing but the client's files and config.json."""
    if not (settings.web_dir / "index.html").is_file():
        raise ValueError(f"{settings.web_dir} holds no web client (index.html)")
    if not (settings.web_dir / "bundle.json").is_file():
        # Served anyway (development), but devices will not keep it: the page says so.
        _LOGGER.warning("no signed bundle.json in %s: devices will not keep it", settings.web_dir)
    app = web.Application()

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", healthz)
    add_routes(app, settings.web_dir, "/", settings.relays)
    return app


def main(argv: list[str] | None = None) -> int:
    """`ora-web`: serve a (signed) web client on an origin of its own."""
    p = argparse.ArgumentParser(prog="ora-web", description=__doc__.split("\n")[0])
    p.add_argument("--dir", type=Path, required=True, help="the web bundle to serve")
    p.add_argument(
        "--relay", action="append", required=True, help="a Relay origin the client may use"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8480)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="ora-web: %(message)s")
    settings = WebSettings(
        web_dir=args.dir, relays=tuple(args.relay), host=args.host, port=args.port
    )
    web.run_app(create_web_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
