"""`python -m relay_server.status`: the public status page of ORA's service side.

It polls what the services already serve and shows, as HTML (English or Japanese, from
Accept-Language) and as `/status.json`, whether each component is up:

    Relay instance   GET /readyz (ready = its database and Redis answer)
    Cloud workers    GET /healthz on each worker's metrics port, and how many are connected
                     to the Relays (`ora_relay_connections{role="cloud"}` on each /metrics)
    PostgreSQL       the protocol's SSLRequest: any 'S' or 'N' answer means the server is up
    Redis            PING: "+PONG", or an authentication error, means the server is up

No credentials are needed and no user data is read: the page holds component names, states,
times and worker counts only. A component that stops answering is shown down at the next poll
(every `ORA_STATUS_INTERVAL_S`, 10 s by default), well within 30 s.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass, field

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families


class StatusSettingsError(Exception):
    """A status setting is malformed (the message names it)."""


@dataclass(frozen=True)
class StatusSettings:
    relays: tuple[tuple[str, str], ...]  # (name, base URL)
    cloud: tuple[tuple[str, str], ...]  # (name, metrics base URL)
    postgres: str  # host:port, or "" for none
    redis: str
    interval_s: float = 10.0
    timeout_s: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StatusSettings:
        """ORA_STATUS_* variables: RELAYS and CLOUD are `name=url,...`."""

        def named(key: str) -> tuple[tuple[str, str], ...]:
            pairs = []
            for item in filter(None, (s.strip() for s in env.get(key, "").split(","))):
                name, sep, url = item.partition("=")
                if not sep or not url.startswith(("http://", "https://")):
                    raise StatusSettingsError(
                        f"{key}: expected name=http://host:port, got {item!r}"
                    )
                pairs.append((name, url.rstrip("/")))
            return tuple(pairs)

        try:
            interval = float(env.get("ORA_STATUS_INTERVAL_S", "10"))
        except ValueError:
            raise StatusSettingsError("ORA_STATUS_INTERVAL_S must be a number of seconds") from None
        return cls(
            relays=named("ORA_STATUS_RELAYS"),
            cloud=named("ORA_STATUS_CLOUD"),
            postgres=env.get("ORA_STATUS_POSTGRES", ""),
            redis=env.get("ORA_STATUS_REDIS", ""),
            interval_s=interval,
        )


@dataclass
class Component:
    name: str
    kind: str  # relay | cloud | postgres | redis
    up: bool = False
    since: float = field(default_factory=time.time)  # when `up` last changed
    checked: float = 0.0
    detail: str = ""


async def _http_ok(session: aiohttp.ClientSession, url: str) -> tuple[bool, str]:
    try:
        async with session.get(url) as resp:
            return resp.status == 200, f"HTTP {resp.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return False, type(exc).__name__


async def _tcp_probe(address: str, send: bytes) -> bytes:
    """Send `send` and return the first bytes of the answer (the caller bounds the time)."""
    host, _, port = address.rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(send)
        await writer.drain()
        return await reader.read(64)
    finally:
        writer.close()


# SSLRequest (length 8, code 80877103): a live PostgreSQL answers one byte, 'S' or 'N'.
_PG_SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


async def _store_up(kind: str, address: str, limit_s: float) -> tuple[bool, str]:
    """PostgreSQL or Redis answering its own protocol, without credentials."""
    try:
        async with asyncio.timeout(limit_s):
            if kind == "postgres":
                return (await _tcp_probe(address, _PG_SSL_REQUEST))[:1] in (b"S", b"N"), "answers"
            answer = await _tcp_probe(address, b"PING\r\n")
            return answer.startswith((b"+PONG", b"-NOAUTH")), "answers"
    except (OSError, TimeoutError, ValueError) as exc:
        return False, type(exc).__name__


def _cloud_connected(metrics_text: str) -> int:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "ora_relay_connections":
            return int(sum(s.value for s in family.samples if s.labels.get("role") == "cloud"))
    return 0


class StatusBoard:
    """The components and their last known state; `poll` refreshes them all at once."""

    def __init__(self, settings: StatusSettings) -> None:
        self.settings = settings
        self.components = [Component(n, "relay") for n, _ in settings.relays]
        self.components += [Component(n, "cloud") for n, _ in settings.cloud]
        if settings.postgres:
            self.components.append(Component("postgresql", "postgres"))
        if settings.redis:
            self.components.append(Component("redis", "redis"))
        self.cloud_connected = 0

    def _set(self, component: Component, up: bool, detail: str) -> None:
        now = time.time()
        if up != component.up or not component.checked:
            component.since = now
        component.up, component.detail, component.checked = up, detail, now

    async def poll(self, session: aiohttp.ClientSession) -> None:
        s = self.settings
        by_name = {c.name: c for c in self.components}

        async def relay(name: str, url: str) -> int:
            up, detail = await _http_ok(session, f"{url}/readyz")
            self._set(by_name[name], up, detail)
            if not up:
                return 0
            try:
                async with session.get(f"{url}/metrics") as resp:
                    return _cloud_connected(await resp.text())
            except (aiohttp.ClientError, TimeoutError, OSError):
                return 0

        async def cloud(name: str, url: str) -> int:
            self._set(by_name[name], *await _http_ok(session, f"{url}/healthz"))
            return 0

        async def store(name: str, kind: str, address: str) -> int:
            self._set(by_name[name], *await _store_up(kind, address, s.timeout_s))
            return 0

        jobs = [relay(n, u) for n, u in s.relays] + [cloud(n, u) for n, u in s.cloud]
        if s.postgres:
            jobs.append(store("postgresql", "postgres", s.postgres))
        if s.redis:
            jobs.append(store("redis", "redis", s.redis))
        self.cloud_connected = sum(await asyncio.gather(*jobs))

    @property
    def overall(self) -> str:
        """operational: all up; degraded: some down but each kind has one up; down otherwise."""
        if all(c.up for c in self.components):
            return "operational"
        kinds = {c.kind for c in self.components}
        if all(any(c.up for c in self.components if c.kind == k) for k in kinds):
            return "degraded"
        return "down"

    def as_json(self) -> dict[str, object]:
        return {
            "overall": self.overall,
            "cloud_workers_connected": self.cloud_connected,
            "components": [asdict(c) for c in self.components],
            "generated": time.time(),
        }


_TEXT = {
    "en": {
        "title": "ORA service status",
        "operational": "All systems operational",
        "degraded": "Some components are down; the service still works",
        "down": "Service disruption",
        "up": "up",
        "down_c": "down",
        "since": "since",
        "workers": "Cloud workers connected",
        "relay": "Relay",
        "cloud": "Cloud worker",
        "postgres": "Database",
        "redis": "Routing cache",
    },
    "ja": {
        "title": "ORA サービス稼働状況",
        "operational": "すべて正常に稼働しています",
        "degraded": "一部の構成要素が停止していますが、サービスは利用できます",
        "down": "サービス障害が発生しています",
        "up": "稼働中",
        "down_c": "停止",
        "since": "変化時刻",
        "workers": "接続中のクラウドワーカー",
        "relay": "リレー",
        "cloud": "クラウドワーカー",
        "postgres": "データベース",
        "redis": "ルーティングキャッシュ",
    },
}


def _language(accept: str) -> str:
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("ja"):
            return "ja"
        if tag.startswith("en"):
            return "en"
    return "en"


def render_html(board: StatusBoard, lang: str) -> str:
    """A page that refreshes itself; no script, so the strict CSP below holds."""
    t = _TEXT[lang]
    rows = "".join(
        f"<tr class={'up' if c.up else 'down'}><td>{t[c.kind]}</td><td>{html.escape(c.name)}</td>"
        f"<td>{t['up'] if c.up else t['down_c']}</td>"
        f"<td>{t['since']} {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(c.since))}</td></tr>"
        for c in board.components
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="10"><title>{t["title"]}</title>'
        "<style>body{font-family:sans-serif;max-width:40em;margin:1em auto;padding:0 1em}"
        "td{padding:.3em .6em}.up td:nth-child(3){color:#070}.down td:nth-child(3){color:#b00}"
        "</style></head>"
        f'<body><h1>{t["title"]}</h1><p id="overall">{t[board.overall]}</p>'
        f"<table>{rows}</table><p>{t['workers']}: {board.cloud_connected}</p></body></html>"
    )


BOARD = web.AppKey("board", StatusBoard)


async def _page(request: web.Request) -> web.Response:
    lang = request.query.get("lang") or _language(request.headers.get("Accept-Language", ""))
    lang = lang if lang in _TEXT else "en"
    return web.Response(
        text=render_html(request.app[BOARD], lang),
        content_type="text/html",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


async def _json(request: web.Request) -> web.Response:
    return web.json_response(request.app[BOARD].as_json(), headers={"Cache-Control": "no-cache"})


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_status_app(settings: StatusSettings) -> web.Application:
    """The status page; it polls in the background for as long as it runs."""
    app = web.Application()
    app[BOARD] = StatusBoard(settings)

    async def poller(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=settings.timeout_s)
        session = aiohttp.ClientSession(timeout=timeout)

        async def loop() -> None:
            while True:
                await app[BOARD].poll(session)
                await asyncio.sleep(settings.interval_s)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        await session.close()

    app.cleanup_ctx.append(poller)
    app.router.add_get("/", _page)
    app.router.add_get("/status.json", _json)
    app.router.add_get("/healthz", _healthz)
    return app


def main(argv: list[str] | None = None) -> int:
    import os
    import sys

    parser = argparse.ArgumentParser(prog="ora-status", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8480)
    args = parser.parse_args(argv)
    try:
        settings = StatusSettings.from_env(os.environ)
    except StatusSettingsError as exc:
        print(f"ora-status: {exc}", file=sys.stderr)
        return 2
    web.run_app(create_status_app(settings), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
