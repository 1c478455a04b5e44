"""The local server: the desktop's way into the core, locked to this PC.

Three checks stand before every API call, because a web page the owner visits can reach
127.0.0.1 too:
- Host must name this server as bound (a DNS-rebinding page arrives with its own host name);
- Origin, when a browser sends one, must be this server itself (cross-site requests and
  WebSocket hijacking carry the attacker's origin);
- the bearer token from `<state_dir>/local-token` (mode 0600, so only the owner's account and
  processes can read it), or a browser session from a one-time sign-in code (login.py): the
  tray never puts the file's token on a browser's command line.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from app.core.assistant import TurnRequest
from app.core.events import (
    ApprovalPending,
    PlanUpdate,
    TextDelta,
    ToolFinished,
    ToolStarted,
    TurnCancelled,
    TurnDone,
)
from app.core.runtime import Runtime
from app.local_server.login import LoginCodes
from app.policy.gate import Role

_LOGGER = logging.getLogger(__name__)
TOKEN_FILE = "local-token"  # noqa: S105 - a file name, not a secret
WEB_DIR = Path(__file__).resolve().parents[2] / "assets" / "web"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ShowHook = Callable[[], None]
RUNTIME = web.AppKey("runtime", Runtime)
LOGIN = web.AppKey("login", LoginCodes)
SHOW: web.AppKey[ShowHook] = web.AppKey("show")


def ensure_token(state_dir: Path) -> str:
    """The local API token, created once with mode 0600 (re-created if anyone else could read it)."""
    path = state_dir / TOKEN_FILE
    if path.exists() and path.stat().st_mode & 0o077 == 0:
        return path.read_text().strip()
    path.unlink(missing_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    return token


def bind_host(host: str, expose_lan: bool) -> str:
    """Loopback unless the owner explicitly switched LAN exposure on."""
    return host if expose_lan else "127.0.0.1"


@dataclasses.dataclass
class LocalServer:
    """The running local server: where the desktop web client lives and how to stop it."""

    runner: web.AppRunner
    port: int
    token: str
    login: LoginCodes

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/app/"

    def owner_url(self) -> str:
        """A URL that signs one browser tab in as the owner at this PC, once, within a minute.

        It goes on the browser's command line, which other local users can read; it holds
        only a single-use code (login.py), never the local token.
        """
        return f"{self.url}#login={self.login.issue()}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start(runtime: Runtime, *, on_show: ShowHook | None = None) -> LocalServer | None:
    """Serve the core on this PC; None (and a log line) when the port is taken.

    `on_show` is called when a second start of ORA on this profile asks this one to come
    forward (profile_lock.py).
    """
    settings = runtime.settings
    token = ensure_token(settings.state_dir)
    # Port 0 means "any free port"; it is fixed here because the Host check names it.
    port = settings.local_port or _free_port()
    extra = {f"{settings.local_host}:{port}"} if settings.expose_lan else set()
    login = LoginCodes()
    runner = web.AppRunner(
        create_app(runtime, token, port, extra_hosts=extra, login=login, on_show=on_show),
        access_log=None,
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, bind_host(settings.local_host, settings.expose_lan), port).start()
    except OSError as err:
        await runner.cleanup()
        _LOGGER.warning(
            "local server not started: port %d is in use (%s); set [local_server] port in config.toml",
            settings.local_port,
            err.strerror,
        )
        return None
    return LocalServer(runner=runner, port=port, token=token, login=login)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_app(
    runtime: Runtime,
    token: str,
    port: int,
    *,
    extra_hosts: set[str] | None = None,
    login: LoginCodes | None = None,
    on_show: ShowHook | None = None,
) -> web.Application:
    """The local server for one Node; `port` is the one it is bound to (Host is checked against it)."""
    login = login or LoginCodes()
    allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    allowed_hosts |= extra_hosts or set()
    allowed_origins = {f"http://{h}" for h in allowed_hosts}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.host not in allowed_hosts:
            return web.json_response(
                {
                    "error": "bad_host",
                    "message": "this server answers only on this PC's own address",
                },
                status=403,
            )
        origin = request.headers.get("Origin")
        if origin is not None and origin not in allowed_origins:
            return web.json_response(
                {"error": "bad_origin", "message": "requests from other sites are refused"},
                status=403,
            )
        if request.path.startswith("/api/"):
            presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if not presented or not (
                hmac.compare_digest(presented.encode(), token.encode())
                or login.is_session(presented)
            ):
                return web.json_response(
                    {"error": "unauthorized", "message": "missing or wrong local token"}, status=401
                )
        response = await handler(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        return response

    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    app[RUNTIME] = runtime
    app[LOGIN] = login
    app[SHOW] = on_show or (lambda: None)
    app.router.add_post("/api/show", show)
    app.router.add_post("/auth/login", sign_in)
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/chat", chat)
    app.router.add_post("/api/chat/cancel", cancel_chat)
    if WEB_DIR.is_dir():
        app.router.add_get("/app/", web_client)
        app.router.add_get("/favicon.ico", favicon)  # browsers ask at the root, page or not
        app.router.add_static("/app/", WEB_DIR, show_index=False)
    return app


async def favicon(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(
        WEB_DIR / "icons" / "ora-192.png",
        headers={"Cache-Control": "max-age=86400", "Content-Type": "image/png"},
    )


async def web_client(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def sign_in(request: web.Request) -> web.Response:
    """Exchange a one-time code from the tray's link for this tab's session token."""
    try:
        body = await request.json()
        code = body["code"]
        if not isinstance(code, str):
            raise TypeError
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return web.json_response(
            {"error": "bad_request", "message": 'send {"code": "..."}'}, status=400
        )
    session = request.app[LOGIN].exchange(code)
    if session is None:
        _LOGGER.warning("local sign-in refused: unknown, used or expired code")
        return web.json_response(
            {
                "error": "code_used",
                "message": "this sign-in link was already used or has expired; "
                "open the browser again from ORA's tray menu",
            },
            status=401,
        )
    return web.json_response({"token": session}, headers={"Cache-Control": "no-store"})


async def show(request: web.Request) -> web.Response:
    """A second start of ORA on this profile: bring this one forward (token required)."""
    request.app[SHOW]()
    return web.json_response({"shown": True})


async def status(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return web.json_response(
        {
            "profile": runtime.settings.profile.value,
            "providers": [
                {"name": s.config.name, "enabled": s.enabled, "reason": s.reason}
                for s in runtime.providers.statuses
            ],
            "pending_approvals": len(runtime.broker.pending()),
        }
    )


async def cancel_chat(request: web.Request) -> web.Response:
    """Stop the turn started by /api/chat with this `id` (the owner, at this PC)."""
    try:
        chat_id = (await request.json())["id"]
        if not isinstance(chat_id, str) or not chat_id:
            raise ValueError
    except (ValueError, KeyError, TypeError, json.JSONDecodeError):
        return web.json_response(
            {"error": "bad_request", "message": 'send {"id": "..."}'}, status=400
        )
    cancelled = request.app[RUNTIME].assistant.cancel(
        f"local:{chat_id[:64]}", user_id="owner", role=Role.OWNER
    )
    return web.json_response({"cancelled": cancelled})


async def chat(request: web.Request) -> web.StreamResponse:
    """One turn as the owner at the PC, streamed as JSON lines."""
    runtime = request.app[RUNTIME]
    try:
        body = await request.json()
        text = body["text"]
        chat_id = body.get("id", "")
        if not isinstance(text, str) or not text.strip() or not isinstance(chat_id, str):
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError, json.JSONDecodeError):
        return web.json_response(
            {"error": "bad_request", "message": 'send {"text": "..."}'}, status=400
        )
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    turn_id = f"local:{chat_id[:64]}" if chat_id else ""
    req = TurnRequest(text=text, user_id="owner", role=Role.OWNER, channel="tray", turn_id=turn_id)
    async for event in runtime.assistant.turn(req):
        line: dict[str, object] | None = None
        if isinstance(event, TextDelta):
            line = {"type": "delta", "text": event.text}
        elif isinstance(event, ToolStarted):
            line = {
                "type": "tool",
                "call_id": event.call_id,
                "tool": event.tool,
                "status": "started",
            }
        elif isinstance(event, ApprovalPending):  # waiting for the owner, not running
            line = {
                "type": "tool",
                "call_id": event.call_id,
                "tool": event.request.tool,
                "status": "waiting",
                "approval_id": event.request.approval_id,
            }
        elif isinstance(event, ToolFinished):
            line = {
                "type": "tool",
                "call_id": event.call_id,
                "tool": event.tool,
                "status": event.outcome,
                "detail": event.summary,
            }
        elif isinstance(event, PlanUpdate):
            line = {
                "type": "plan",
                "steps": event.step_dicts(),
                "current": event.current,
                "revision": event.revision,
            }
        elif isinstance(event, TurnCancelled):
            line = {"type": "cancelled"}
        elif isinstance(event, TurnDone):
            line = {"type": "done", "text": event.text}
        if line is not None:
            await response.write((json.dumps(line, ensure_ascii=False) + "\n").encode())
    await response.write_eof()
    return response
