"""Model providers through litellm: any OpenAI-compatible endpoint by configuration alone.

litellm takes ~3 s to import and fetches a price list from the internet unless told not to, so
it is imported on the first model call, never at start-up, with its local cost map forced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from app.errors import ProviderError
from app.settings import ProviderConfig
from app.store.secrets import SecretStore

_LOGGER = logging.getLogger(__name__)
_LOCAL_KEY = "not-needed"  # OpenAI clients insist on some key; local servers ignore it


def _litellm() -> Any:
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    return litellm


@dataclass(frozen=True, kw_only=True)
class ProviderStatus:
    """A provider and whether it can be used, with the reason when it cannot."""

    config: ProviderConfig
    enabled: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class ToolCallRequest:
    """One function call the model asked for."""

    call_id: str
    name: str
    arguments: str  # raw JSON text, validated by the registry


@dataclass
class StreamResult:
    """What a streamed completion produced, filled as the stream goes."""

    provider: str = ""
    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    provider_s: float = 0.0  # time spent waiting on the provider


@dataclass
class ProviderPool:
    """The configured providers, which are usable, and the fallback order for each role."""

    statuses: list[ProviderStatus]
    timeout_s: float = 60.0
    secrets: SecretStore | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, configs: Sequence[ProviderConfig], secrets: SecretStore) -> ProviderPool:
        """Disable every provider whose key is missing, saying how to add it."""
        statuses = []
        for cfg in configs:
            if cfg.local:
                statuses.append(
                    ProviderStatus(config=cfg, enabled=True, reason="local server, no key needed")
                )
            elif not cfg.key_ref:
                statuses.append(
                    ProviderStatus(
                        config=cfg,
                        enabled=False,
                        reason="no key_ref in config.toml for this provider",
                    )
                )
            elif secrets.get(cfg.key_ref) is None:
                statuses.append(
                    ProviderStatus(
                        config=cfg,
                        enabled=False,
                        reason=f"no API key stored: run `ora key set {cfg.key_ref}`",
                    )
                )
            else:
                statuses.append(ProviderStatus(config=cfg, enabled=True, reason="ready"))
        return cls(statuses=statuses, secrets=secrets)

    def add_local(self, cfg: ProviderConfig) -> None:
        """Add a detected local server after the configured providers."""
        if not any(s.config.base_url == cfg.base_url for s in self.statuses):
            self.statuses.append(
                ProviderStatus(config=cfg, enabled=True, reason="detected on this PC")
            )

    def usable(self, role: str) -> list[ProviderConfig]:
        """Enabled providers serving a role, in fallback order."""
        return [s.config for s in self.statuses if s.enabled and role in s.config.roles]

    def has_any(self) -> bool:
        """Is any provider usable at all?"""
        return any(s.enabled for s in self.statuses)

    def _key(self, cfg: ProviderConfig) -> str:
        if cfg.local or not cfg.key_ref or self.secrets is None:
            return _LOCAL_KEY
        return self.secrets.get(cfg.key_ref) or _LOCAL_KEY

    async def stream(
        self,
        role: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        result: StreamResult,
    ) -> AsyncIterator[str]:
        """Stream text deltas; fall back to the next provider if one fails before answering."""
        candidates = self.usable(role) or self.usable("chat")
        if not candidates:
            raise ProviderError(
                "no model provider is enabled: add one with `ora key set` and config.toml"
            )
        failures = []
        for cfg in candidates:
            started = False
            try:
                async for delta in self._stream_one(cfg, messages, tools, result):
                    started = True
                    yield delta
                result.provider = cfg.name
                return
            except Exception as err:  # any provider failure: try the next one
                if started:
                    raise ProviderError(
                        f"{cfg.name} failed mid-answer: {type(err).__name__}"
                    ) from None
                _LOGGER.warning(
                    "provider %s failed (%s); trying the next", cfg.name, type(err).__name__
                )
                failures.append(f"{cfg.name}: {type(err).__name__}")
                result.text, result.tool_calls = "", []
        raise ProviderError("every provider failed: " + "; ".join(failures))

    async def _stream_one(
        self,
        cfg: ProviderConfig,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        result: StreamResult,
    ) -> AsyncIterator[str]:
        litellm = _litellm()
        kwargs: dict[str, Any] = {
            "model": f"openai/{cfg.model}",
            "api_base": cfg.base_url,
            "api_key": self._key(cfg),
            "messages": messages,
            "stream": True,
            "timeout": self.timeout_s,
            # Failing over to the next provider is our job; a client retrying on its own would
            # hide the failure and double the wait.
            "max_retries": 0,
        }
        if tools:
            kwargs["tools"] = tools
        t0 = time.perf_counter()
        stream = await litellm.acompletion(**kwargs)
        calls: dict[int, dict[str, str]] = {}
        iterator = stream.__aiter__()
        while True:
            try:
                chunk = await iterator.__anext__()
            except StopAsyncIteration:
                break
            finally:
                result.provider_s += time.perf_counter() - t0
            choice = chunk.choices[0] if chunk.choices else None
            delta = getattr(choice, "delta", None)
            if delta is not None:
                for tc in getattr(delta, "tool_calls", None) or []:
                    slot = calls.setdefault(tc.index or 0, {"id": "", "name": "", "arguments": ""})
                    slot["id"] = tc.id or slot["id"]
                    if tc.function is not None:
                        slot["name"] += tc.function.name or ""
                        slot["arguments"] += tc.function.arguments or ""
                content = getattr(delta, "content", None)
                if content:
                    result.text += content
                    yield content
            t0 = time.perf_counter()
        result.tool_calls = [
            ToolCallRequest(
                call_id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}"
            )
            for i, c in sorted(calls.items())
        ]


async def detect_local_servers(
    ports: Sequence[int], host: str = "127.0.0.1", timeout_s: float = 0.4
) -> list[ProviderConfig]:
    """Find OpenAI-compatible servers on this PC (Ollama :11434, LM Studio :1234) quickly."""
    names = {11434: "ollama", 1234: "lm-studio"}

    async def probe(session: aiohttp.ClientSession, port: int) -> ProviderConfig | None:
        url = f"http://{host}:{port}/v1"
        try:
            async with session.get(f"{url}/models") as resp:
                if resp.status != 200:
                    return None
                body = json.loads(await resp.text())
        except (aiohttp.ClientError, TimeoutError, json.JSONDecodeError, UnicodeDecodeError):
            return None
        data = body.get("data", []) if isinstance(body, dict) else []
        models: list[str] = [
            m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]
        if not models:
            return None
        return ProviderConfig(
            name=names.get(port, f"local-{port}"), base_url=url, model=models[0], local=True
        )

    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        found = await asyncio.gather(*(probe(session, p) for p in ports))
    return [f for f in found if f is not None]
