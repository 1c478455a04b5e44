"""A real HTTP server on loopback speaking the Gemini API's streamGenerateContent.

Written from Google's public documentation (ai.google.dev/api, "Generating content"):
`POST /v1beta/models/{model}:streamGenerateContent?alt=sse` with the key in the
`x-goog-api-key` header (or `?key=`); each SSE `data:` line is a GenerateContentResponse
(`candidates[0].content.parts[]` with `text` or `functionCall {name, args}`); the last one has
`finishReason` and `usageMetadata`. There is no `[DONE]`: the stream just ends. Without
`alt=sse` the same records come as one JSON array.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.fake_openai import Reply


@dataclass
class FakeGemini:
    """Serve scripted replies in order; when the script runs out, echo the last user text."""

    script: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1beta"

    async def start(self) -> FakeGemini:
        app = web.Application()
        app.router.add_post("/v1beta/models/{action}", self._generate)
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
        last = next(c for c in reversed(body["contents"]) if c.get("role", "user") == "user")
        text = " ".join(p.get("text", "") for p in last.get("parts", []))
        return Reply(text=f"echo: {text}")

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        if not action.endswith(":streamGenerateContent"):
            return web.json_response({"error": {"code": 404, "status": "NOT_FOUND"}}, status=404)
        body = await request.json()
        self.requests.append(body)
        self.paths.append(request.path_qs)
        self.api_keys.append(
            request.headers.get("x-goog-api-key", "") or request.query.get("key", "")
        )
        reply = self._next(body)
        if reply.fail_status:
            return web.json_response(
                {"error": {"code": reply.fail_status, "status": "INTERNAL"}},
                status=reply.fail_status,
            )
        records: list[dict[str, Any]] = []
        words = reply.text.split(" ") if reply.text else []
        for i, word in enumerate(words):
            part = {"text": word if i == 0 else " " + word}
            records.append(
                {"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]}
            )
        if reply.tool_calls:
            parts = [{"functionCall": {"name": n, "args": a}} for n, a in reply.tool_calls]
            records.append(
                {"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]}
            )
        if not records:
            records.append(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"text": ""}]}, "index": 0}
                    ]
                }
            )
        records[-1]["candidates"][0]["finishReason"] = "STOP"
        records[-1]["usageMetadata"] = {
            "promptTokenCount": 13,
            "candidatesTokenCount": 4,
            "totalTokenCount": 17,
        }
        if request.query.get("alt") != "sse":
            return web.json_response(records)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for record in records:
            await resp.write(f"data: {json.dumps(record)}\r\n\r\n".encode())
        await resp.write_eof()
        return resp
