"""A forward proxy on loopback that connects only to addresses the guard checked.

The browser resolves nothing itself: Chromium is started with this proxy for every scheme and no
bypass (loopback included), so every request it makes (navigations, redirects, subresources,
form posts, fetches from pages, workers and service workers, WebSockets) arrives here as either
`GET http://host/path` or `CONNECT host:port`. The host is resolved once, through
`GuardedResolver`, and the connection goes to exactly one of the addresses it checked; a second
request resolves (and checks) again, so a name that rebinds to 127.0.0.1 is refused the moment
it does. Nothing here parses or decrypts TLS: a CONNECT tunnel is bytes both ways.

Each plain-HTTP exchange uses one upstream connection and ends the client connection with it
(`Connection: close` both ways), so a kept-alive client connection can never carry a request
for one host to a socket opened for another.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from netguard.addresses import AddressPolicy, parse_address
from netguard.errors import AddressRefused, FetchRefused
from netguard.fetcher import GuardedResolver, Lookup

_LOGGER = logging.getLogger(__name__)
MAX_HEAD = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 15.0
_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization"})
# (what was asked for: the URL, or host:port for a tunnel; why it was refused)
OnRefused = Callable[[str, str], None]


class _BadRequest(Exception):
    """The client did not speak HTTP to a proxy."""


class GuardedProxy:
    """`start()` it, hand `url` to the browser, `close()` it with the browser."""

    def __init__(
        self,
        policy: AddressPolicy,
        lookup: Lookup | None = None,
        on_refused: OnRefused | None = None,
    ) -> None:
        self.policy = policy
        self._resolver = GuardedResolver(policy, lookup)
        self._on_refused = on_refused
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """The proxy's address, for `--proxy-server`."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening and cut every open exchange and tunnel."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._server = None
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._exchange(reader, writer)
        except (_BadRequest, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            await _reply(writer, 400, "Bad Request")
        except (ConnectionError, OSError):
            pass  # either side went away
        except Exception as err:  # a bug or a resolver failing oddly: this exchange only
            _LOGGER.warning("browser proxy exchange failed: %s", type(err).__name__)
            await _reply(writer, 502, "Bad Gateway")
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(_read_head(reader), HEAD_TIMEOUT_S)
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest
        method, target, _version = parts
        if method == "CONNECT":
            where = urlsplit(f"//{target}")
            host, port, asked = where.hostname, where.port, target
        else:
            where = urlsplit(target)
            if where.scheme != "http":  # origin-form: someone used the proxy as a server
                raise _BadRequest
            host, port, asked = where.hostname, where.port or 80, target
        if not host or not port:
            raise _BadRequest
        body_length = _body_length(header_lines) if method != "CONNECT" else None
        try:
            upstream_reader, upstream = await self._connect(host, port)
        except AddressRefused as err:
            if self._on_refused is not None:
                self._on_refused(asked, str(err))
            _LOGGER.info("proxy refused a browser request by the address guard")
            await _reply(writer, 403, "Forbidden", _refusal_page(str(err)))
            return
        except (FetchRefused, OSError, TimeoutError):  # unknown name, nobody answering
            await _reply(writer, 502, "Bad Gateway")
            return
        source: asyncio.StreamReader | _CloseResponses = upstream_reader
        client: asyncio.StreamReader | None = reader  # what the client sends next, forwarded
        try:
            if method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                await writer.drain()
            else:
                path = where.path or "/"
                if where.query:
                    path += "?" + where.query
                kept = [h for h in header_lines if h and _name(h) not in _HOP_HEADERS]
                out = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
                upstream.write((out + "\r\n\r\n").encode("latin-1"))
                await upstream.drain()
                if body_length is not None:  # exactly this request's body, and nothing after it
                    await _copy_exactly(reader, upstream, body_length)
                    client = None
                source = _CloseResponses(upstream_reader)
            await _pipe_both(client, writer, source, upstream)
        finally:
            upstream.close()

    async def _connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Resolve through the guard and connect to exactly a checked address."""
        literal = parse_address(host)
        if literal is not None:
            answers = [str(literal)]  # checked below, like any answer
        else:
            resolved = await self._resolver.resolve(host, port, socket.AF_UNSPEC)
            answers = [str(r["host"]) for r in resolved]
        failure: OSError | TimeoutError = OSError(f"cannot connect to {host}")
        for text in answers:
            address = parse_address(text)
            # The last line: the very address about to be connected is checked again.
            if address is None or not self.policy.permits(address):
                raise AddressRefused(self.policy.refusal(host))
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_S
                )
            except (OSError, TimeoutError) as err:
                failure = err
        raise failure


class _CloseResponses:
    """Reads an upstream response, marking each response head `Connection: close`."""

    def __init__(self, inner: asyncio.StreamReader) -> None:
        self._inner = inner
        self._in_body = False

    async def read(self, n: int) -> bytes:
        if self._in_body:
            return await self._inner.read(n)
        head = await _read_head(self._inner)
        status_line, *lines = head.split("\r\n")
        informational = status_line[9:12].startswith("1") and status_line[9:12] != "101"
        self._in_body = not informational
        kept = [h for h in lines if h and _name(h) not in _HOP_HEADERS]
        if not informational:
            kept.append("Connection: close")
        return ("\r\n".join([status_line, *kept]) + "\r\n\r\n").encode("latin-1")


def _name(header_line: str) -> str:
    return header_line.split(":", 1)[0].strip().lower()


async def _read_head(reader: asyncio.StreamReader) -> str:
    """Bytes up to the blank line, as latin-1 (HTTP heads are bytes, not UTF-8)."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        raise _BadRequest from None
    if len(raw) > MAX_HEAD:
        raise _BadRequest
    return raw[:-4].decode("latin-1")


def _body_length(header_lines: list[str]) -> int | None:
    """The request body's length; None for a chunked body (streamed until the client is done)."""
    lengths = [h.split(":", 1)[1].strip() for h in header_lines if _name(h) == "content-length"]
    chunked = any(_name(h) == "transfer-encoding" for h in header_lines)
    if (chunked and lengths) or len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        raise _BadRequest  # ambiguous framing is how requests get smuggled: refuse it
    return None if chunked else int(lengths[0]) if lengths else 0


async def _copy_exactly(reader: asyncio.StreamReader, sink: asyncio.StreamWriter, n: int) -> None:
    while n > 0:
        chunk = await reader.read(min(n, 65536))
        if not chunk:
            raise _BadRequest
        sink.write(chunk)
        await sink.drain()
        n -= len(chunk)


async def _pipe(source: asyncio.StreamReader | _CloseResponses, sink: asyncio.StreamWriter) -> None:
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    finally:
        with contextlib.suppress(Exception):
            sink.write_eof()


async def _pipe_both(
    client_reader: asyncio.StreamReader | None,
    client: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader | _CloseResponses,
    upstream: asyncio.StreamWriter,
) -> None:
    """Bytes both ways until either side is done (the other is then cut, never left open)."""
    ways = {asyncio.ensure_future(_pipe(upstream_reader, client))}
    if client_reader is not None:
        ways.add(asyncio.ensure_future(_pipe(client_reader, upstream)))
    try:
        done, _ = await asyncio.wait(ways, return_when=asyncio.FIRST_COMPLETED)
        for way in done:
            way.result()  # a failure in either direction ends the exchange the same way
    finally:
        for way in ways:
            way.cancel()
        await asyncio.gather(*ways, return_exceptions=True)


def _refusal_page(why: str) -> str:
    text = html.escape(why)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Refused by ORA</title></head>"
        "<body><h1>ORA refused this address / ORA はこのアドレスへの接続を拒否しました</h1>"
        f"<p id='ora-refusal'>{text}</p></body></html>"
    )


async def _reply(writer: asyncio.StreamWriter, status: int, reason: str, body: str = "") -> None:
    data = body.encode("utf-8")
    ctype = "Content-Type: text/html; charset=utf-8\r\n" if data else ""
    head = f"HTTP/1.1 {status} {reason}\r\n{ctype}Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(Exception):
        writer.write(head.encode("latin-1") + data)
        await writer.drain()
