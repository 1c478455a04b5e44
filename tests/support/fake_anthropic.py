"""A real HTTP server on loopback speaking Anthropic's Messages API, streamed (SSE).

Written from Anthropic's public documentation ("Streaming Messages"): `POST /v1/messages`
with `x-api-key` and `anthropic-version` headers; with `"stream": true` the answer is a
sequence of named events: message_start, content_block_start, ping, content_block_delta
(`text_delta`, or `input_json_delta` for a tool_use block), content_block_stop,
message_delta (stop_reason, output usage), message_stop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.fake_openai import Reply


@dataclass
class FakeAnthropic:
    """Serve scripted replies in order; when the script runs out, echo the last user text."""

    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeAnthropic:
        app = web.Application()
        app.router.add_post("/v1/messages", self._messages)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _next(self, body: dict[str, Any]) -> Reply:
        if self.script:
            return self.script.pop(0)
        last = next(m for m in reversed(body["messages"]) if m["role"] == "user")
        content = last["content"]
        if isinstance(content, list):
            content = " ".join(b.get("text", "") for b in content if isinstance(b, dict))
        return Reply(text=f"echo: {content}")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.api_keys.append(request.headers.get("x-api-key", ""))
        if not request.headers.get("anthropic-version"):
            return web.json_response(
                {"type": "error", "error": {"type": "invalid_request_error"}}, status=400
            )
        reply = self._next(body)
        if reply.fail_status:
            return web.json_response(
                {"type": "error", "error": {"type": "api_error", "message": "scripted"}},
                status=reply.fail_status,
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        async def event(name: str, data: dict[str, Any]) -> None:
            await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())

        await event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": body.get("model", ""),
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 21, "output_tokens": 1},
                },
            },
        )
        index = 0
        if reply.text:
            await event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            await event("ping", {"type": "ping"})
            for i, word in enumerate(reply.text.split(" ")):
                await event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": word if i == 0 else " " + word},
                    },
                )
            await event("content_block_stop", {"type": "content_block_stop", "index": 0})
            index = 1
        for i, (name, args) in enumerate(reply.tool_calls):
            block = index + i
            await event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": block,
                    "content_block": {
                        "type": "tool_use",
                        "id": f"toolu_{i}",
                        "name": name,
                        "input": {},
                    },
                },
            )
            raw = json.dumps(args)
            for piece in (raw[: len(raw) // 2], raw[len(raw) // 2 :]):
                await event(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": block,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
            await event("content_block_stop", {"type": "content_block_stop", "index": block})
        await event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
                    "stop_sequence": None,
                },
                "usage": {"output_tokens": 7},
            },
        )
        await event("message_stop", {"type": "message_stop"})
        await resp.write_eof()
        return resp
