"""The Cloud worker's settings, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from protocol.encoding import b64u_decode
from protocol.errors import DecodeError


class SettingsError(Exception):
    """A required setting is missing or malformed (the message names it)."""


@dataclass(frozen=True, kw_only=True)
class CloudSettings:
    """Everything a Cloud worker is configured with. Workers keep no state of their own."""

    relay_url: str  # the Relay the worker connects out to (ws:// or http:// base URL)
    token: str  # the worker credential; the Relay holds only its SHA-256
    private_key: bytes  # the Cloud's static X25519 key, the same on every worker
    model: str  # litellm model string, e.g. "openai/gpt-4o-mini"
    api_base: str = ""  # an OpenAI-compatible endpoint; empty = the provider's default
    api_key: str = ""
    price_model: str = ""  # the litellm cost-map entry to bill at; empty = `model`
    name: str = "cloud"  # for logs only
    request_timeout_s: float = 120.0
    web_fetch: bool = False  # offer the model a web_fetch tool (public pages only)
    fetch_allow_private: bool = False  # tests only: let web_fetch reach loopback/private hosts
    metrics_port: int = 0  # >0: serve /healthz and /metrics on this port (the worker has no other)
    metrics_host: str = "127.0.0.1"
    claim_timeout_s: float = 10.0

    @property
    def billed_model(self) -> str:
        return self.price_model or self.model

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CloudSettings:
        """ORA_CLOUD_* variables; missing required ones are named in the error."""
        env = os.environ if env is None else env
        missing = [
            k
            for k in ("ORA_CLOUD_RELAY_URL", "ORA_CLOUD_TOKEN", "ORA_CLOUD_PRIVATE_KEY")
            if not env.get(k)
        ]
        if missing:
            raise SettingsError(f"set {', '.join(missing)} (see `ora-cloud keygen`)")
        try:
            private_key = b64u_decode(env["ORA_CLOUD_PRIVATE_KEY"].strip(), length=32)
        except DecodeError:
            raise SettingsError("ORA_CLOUD_PRIVATE_KEY must be 32 bytes of base64url") from None
        return cls(
            relay_url=env["ORA_CLOUD_RELAY_URL"].rstrip("/"),
            token=env["ORA_CLOUD_TOKEN"].strip(),
            private_key=private_key,
            model=env.get("ORA_CLOUD_MODEL", "openai/gpt-4o-mini"),
            api_base=env.get("ORA_CLOUD_API_BASE", ""),
            api_key=env.get("ORA_CLOUD_API_KEY", ""),
            price_model=env.get("ORA_CLOUD_PRICE_MODEL", ""),
            name=env.get("ORA_CLOUD_NAME", "cloud"),
            request_timeout_s=float(env.get("ORA_CLOUD_REQUEST_TIMEOUT_S", "120")),
            web_fetch=env.get("ORA_CLOUD_WEB_FETCH", "") == "1",
            fetch_allow_private=env.get("ORA_CLOUD_FETCH_ALLOW_PRIVATE", "") == "1",
            metrics_port=int(env.get("ORA_CLOUD_METRICS_PORT", "0")),
            metrics_host=env.get("ORA_CLOUD_METRICS_HOST", "127.0.0.1"),
        )
