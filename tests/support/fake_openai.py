"""A real HTTP server on loopback speaking the OpenAI chat-completions API, scripted per test.

Each scripted reply is either text (streamed word by word) or tool calls; the server records
every request so tests can check what the model was shown.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """One scripted answer: text, tool calls (name, arguments dict), or an HTTP failure."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_status: int = 0
    chunk_delay_s: float = 0.0
    hang_s: float = 0.0  # wait this long before the first byte of the answer (a hung provider)
    break_after_words: int = 0  # drop the connection after this many words (a crash mid-answer)


@dataclass
class FakeOpenAI:
    """Serve scripted replies in order; when the script runs out, echo the last user message."""

    model: str = "fake-model"
    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def start(self) -> FakeOpenAI:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models", self._models)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model"}]}
        )

    def _next(self, body: dict[str, Any]) -> Reply:
        if self.script:
            return self.script.pop(0)
        last = next((m for m in reversed(body["messages"]) if m["role"] == "user"), {"content": ""})
        return Reply(text=f"echo: {last['content']}")

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.auth_headers.append(request.headers.get("Authorization", ""))
        reply = self._next(body)
        if reply.hang_s:
            await asyncio.sleep(reply.hang_s)
        if reply.fail_status:
            return web.json_response(
                {"error": {"message": "scripted failure"}}, status=reply.fail_status
            )
        created = int(time.time())
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": self.model,
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
            if reply.tool_calls:
                message["tool_calls"] = [
                    {
                        "id": f"call_{i}",
                        "type": "function",
                        "function": {"name": n, "arguments": json.dumps(a)},
                    }
                    for i, (n, a) in enumerate(reply.tool_calls)
                ]
            return web.json_response(
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": message,
                            "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if reply.chunk_delay_s:
                await asyncio.sleep(reply.chunk_delay_s)

        await send({"role": "assistant", "content": ""})
        words = reply.text.split(" ") if reply.text else []
        for i, word in enumerate(words):
            if reply.break_after_words and i == reply.break_after_words:
                assert request.transport is not None
                request.transport.close()  # the connection drops mid-answer
                return resp
            await send({"content": word if i == 0 else " " + word})
        for i, (name, args) in enumerate(reply.tool_calls):
            await send(
                {
                    "tool_calls": [
                        {
                            "index": i,
                            "id": f"call_{i}",
                            "type": "function",
                            "function": {"name": name, "arguments": json.dumps(args)},
                        }
                    ]
                }
            )
        await send({}, finish="tool_calls" if reply.tool_calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            # As OpenAI documents it: one more chunk, no choices, the whole call's usage.
            usage = {
                "prompt_tokens": len(json.dumps(body["messages"])) // 4,
                "completion_tokens": max(1, len(words)),
            }
            chunk = {**base, "choices": [], "usage": usage}
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
