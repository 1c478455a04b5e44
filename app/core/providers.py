"""Model providers by role, with fallback, per-provider time limits and a usage record.

OpenAI-compatible endpoints (OpenAI, Anthropic's and Google's compatible endpoints, Ollama,
LM Studio, vLLM, OpenRouter...) are spoken directly (`openai_wire`, no extra library on the
hot path); any other API goes through litellm (`litellm_adapter`), imported only when such a
provider is configured. Within a role the providers are tried in order: one that fails or
stays silent past its `timeout_s` before the first token hands over to the next; after the
first token a failure ends the answer (the user has already seen part of it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from app.core import litellm_adapter, openai_wire
from app.core.completion import Completion, ToolCallRequest
from app.core.usage import UsageLedger, estimate_tokens
from app.errors import ProviderError
from app.settings import ProviderConfig
from app.store.secrets import SecretStore

__all__ = ["ProviderPool", "ProviderStatus", "StreamResult", "ToolCallRequest"]

_LOGGER = logging.getLogger(__name__)
_LOCAL_KEY = "not-needed"  # OpenAI-compatible servers insist on some key; local ones ignore it


@dataclass(frozen=True, kw_only=True)
class ProviderStatus:
    """A provider and whether it can be used, with the reason when it cannot."""

    config: ProviderConfig
    enabled: bool
    reason: str


@dataclass
class StreamResult:
    """What a streamed completion produced, filled as the stream goes."""

    provider: str = ""
    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    provider_s: float = 0.0  # time spent waiting on the provider (its client included)
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ProviderPool:
    """The configured providers, which are usable, and the fallback order for each role."""

    statuses: list[ProviderStatus]
    timeout_s: float | None = None  # overrides every provider's own (the tray's quick test)
    secrets: SecretStore | None = field(default=None, repr=False)
    usage: UsageLedger | None = field(default=None, repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    @classmethod
    def from_config(
        cls,
        configs: Sequence[ProviderConfig],
        secrets: SecretStore,
        usage: UsageLedger | None = None,
    ) -> ProviderPool:
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
        return cls(statuses=statuses, secrets=secrets, usage=usage)

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

    def needs_litellm(self) -> bool:
        """Is an enabled provider spoken through litellm (so it is worth importing early)?"""
        return any(s.enabled and s.config.kind == "litellm" for s in self.statuses)

    async def warm(self) -> None:
        """Import litellm in a worker thread when a provider needs it; nothing otherwise."""
        if self.needs_litellm():
            await litellm_adapter.warm()

    async def close(self) -> None:
        """Close the HTTP connections kept to providers."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _key(self, cfg: ProviderConfig) -> str:
        if cfg.local or not cfg.key_ref or self.secrets is None:
            return _LOCAL_KEY
        return self.secrets.get(cfg.key_ref) or _LOCAL_KEY

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No overall limit: answers may stream for minutes. The per-provider limit on the
            # silence before (and between) chunks is applied around each read instead.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=30)
            )
        return self._session

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
            if cfg.kind == "litellm":
                # Its import (seconds, once) is not the provider's silence: not timed.
                await litellm_adapter.warm()
            completion = Completion()
            started = False
            outcome = "error"
            t_call = time.perf_counter()
            limit = self.timeout_s or cfg.timeout_s
            deltas = self._open(cfg, messages, tools, completion, limit)
            try:
                while True:
                    t0 = time.perf_counter()
                    try:
                        async with asyncio.timeout(limit):
                            delta = await deltas.__anext__()
                    except StopAsyncIteration:
                        break
                    finally:
                        result.provider_s += time.perf_counter() - t0
                    if delta:
                        started = True
                        yield delta
                outcome = "ok"
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except Exception as err:  # any provider failure: try the next one
                outcome = "timeout" if isinstance(err, TimeoutError) else "error"
                why = f"no answer within {limit:g} s" if outcome == "timeout" else _why(err)
                if started:
                    raise ProviderError(f"{cfg.name} failed mid-answer: {why}") from None
                _LOGGER.warning("provider %s failed (%s); trying the next", cfg.name, why)
                failures.append(f"{cfg.name}: {why}")
            finally:
                await deltas.aclose()
                self._record(cfg, role, messages, completion, outcome, t_call)
            if outcome == "ok":
                result.provider = cfg.name
                result.text = completion.text
                result.tool_calls = completion.tool_calls
                result.prompt_tokens = completion.prompt_tokens
                result.completion_tokens = completion.completion_tokens
                return
        raise ProviderError("every provider failed: " + "; ".join(failures))

    def _open(
        self,
        cfg: ProviderConfig,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        completion: Completion,
        limit: float,
    ) -> AsyncGenerator[str, None]:
        if cfg.kind == "litellm":
            return litellm_adapter.stream_chat(
                model=cfg.model,
                base_url=cfg.base_url,
                api_key=self._key(cfg),
                messages=messages,
                tools=tools,
                timeout_s=limit,
                out=completion,
            )
        return openai_wire.stream_chat(
            self._http(),
            base_url=cfg.base_url,
            model=cfg.model,
            api_key=self._key(cfg),
            messages=messages,
            tools=tools,
            out=completion,
        )

    def _record(
        self,
        cfg: ProviderConfig,
        role: str,
        messages: list[dict[str, Any]],
        completion: Completion,
        outcome: str,
        t_call: float,
    ) -> None:
        if self.usage is None:
            return
        if not completion.usage_reported:
            completion.prompt_tokens = estimate_tokens(json.dumps(messages, ensure_ascii=False))
            completion.completion_tokens = estimate_tokens(completion.text)
        cost = (
            completion.prompt_tokens * cfg.price_in_per_mtok
            + completion.completion_tokens * cfg.price_out_per_mtok
        ) / 1_000_000
        if not cost and cfg.kind == "litellm" and outcome == "ok":
            cost = litellm_adapter.cost_usd(
                cfg.model, completion.prompt_tokens, completion.completion_tokens
            )
        try:
            self.usage.record(
                provider=cfg.name,
                role=role,
                model=cfg.model,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=cost,
                estimated=not completion.usage_reported,
                outcome=outcome,
                seconds=time.perf_counter() - t_call,
            )
        except Exception:  # a full disk must not break the answer
            _LOGGER.exception("could not record provider usage")

    async def probe(self, name: str, timeout_s: float = 15.0) -> str:
        """Ask one provider for a word, whatever its roles (the tray's "Test connection")."""
        status = next((s for s in self.statuses if s.config.name == name), None)
        if status is None:
            raise ProviderError(f"no provider named {name}")
        single = ProviderPool(
            statuses=[
                ProviderStatus(
                    config=dataclasses.replace(status.config, roles=("chat",)),
                    enabled=True,
                    reason="",
                )
            ],
            timeout_s=timeout_s,
            secrets=self.secrets,
            usage=self.usage,
            _session=self._http(),
        )
        result = StreamResult()
        messages = [{"role": "user", "content": "Reply with the word OK."}]
        async for _ in single.stream("chat", messages, None, result):
            pass
        return result.text


def _why(err: BaseException) -> str:
    """A failure's kind, never its text (which may quote the request)."""
    if isinstance(err, aiohttp.ClientResponseError):
        return f"HTTP {err.status}"
    if isinstance(err, aiohttp.ClientConnectionError):
        return "cannot connect"
    text = str(err) if err.__class__.__name__ == "ProviderCallError" else ""
    return text or type(err).__name__


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
