"""One settings object per Node process, loaded once from the profile's TOML and the environment.

The profile's file is `<state_dir>/config.toml`; it is read, never rewritten, so a mistake in
it is reported (file, key, line) and nothing the user wrote is lost. Example:

    node_name = "My PC"
    relay_url = "http://127.0.0.1:8470"
    home_network = false                # true: plain http to a Relay on a home-network address
    web_url = ""                        # the web client's own origin; "" = the Relay's /app/
    locale = "ja"                       # "", "ja" or "en"; "" follows the OS

    [[providers]]
    name = "openai"
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    key_ref = "openai"                  # secret name in the OS keyring (`ora key set openai`)
    roles = ["chat", "planner", "cheap"]
    timeout_s = 20                      # no first token by then: the next provider answers
    price_in_per_mtok = 0.15            # USD per million tokens, for `ora providers --usage`
    price_out_per_mtok = 0.60

    [[providers]]                       # any other API, through litellm (loaded only if used)
    name = "claude"
    kind = "litellm"
    model = "anthropic/claude-3-5-haiku-latest"   # a litellm model string
    key_ref = "anthropic"
    roles = ["planner"]

    [policy.overrides]
    web_fetch = "deny"

    [tools.files]
    roots = ["~/Documents"]

    [updates]
    url = "https://updates.example.org/ora"   # a tufup repository (metadata/ and targets/)
    channel = "stable"                  # "stable", "rc", "beta" or "alpha"
    check_interval_h = 24
    # enabled = false                   # default: on when a url is set; off means no traffic

    [backup]
    interval_h = 24                     # how often a profile with backup on is backed up
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from app.errors import ConfigError
from app.policy.gate import Profile, Verdict

APP_NAME = "ORA"
PROVIDER_ROLES = ("planner", "chat", "cheap")
# "openai": any OpenAI-compatible endpoint, spoken directly (light, on the hot path);
# "litellm": any other API through a litellm model string, imported only when used.
PROVIDER_KINDS = ("openai", "litellm")


@dataclass(frozen=True, kw_only=True)
class ProviderConfig:
    """One model endpoint: OpenAI-compatible by default, or a litellm model string."""

    name: str
    base_url: str
    model: str
    key_ref: str = ""
    roles: tuple[str, ...] = PROVIDER_ROLES
    local: bool = False
    kind: str = "openai"
    timeout_s: float = 20.0  # to the first token; a hung provider then falls through
    price_in_per_mtok: float = 0.0  # USD per million prompt tokens (0: unknown or free)
    price_out_per_mtok: float = 0.0


UPDATE_CHANNELS = ("stable", "rc", "beta", "alpha")


@dataclass(frozen=True, kw_only=True)
class UpdateSettings:
    """The `[updates]` table plus where this copy is installed (given by the launcher)."""

    enabled: bool = False
    url: str = ""
    channel: str = "stable"
    check_interval_h: float = 24.0
    # Set by the launcher for the program it starts; None when ORA runs from source.
    install_root: Path | None = None
    health_file: Path | None = None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a Node process is configured with."""

    profile: Profile
    state_dir: Path
    config_path: Path
    node_name: str = "ORA"
    relay_url: str = "http://127.0.0.1:8470"
    web_url: str = ""  # where pairing links open the web client (an `ora-web` origin)
    # Plain http to a Relay on a private address is allowed only when chosen (home_network.py).
    home_network: bool = False
    locale: str = ""
    local_host: str = "127.0.0.1"
    local_port: int = 8471
    expose_lan: bool = False
    updates: UpdateSettings = field(default_factory=UpdateSettings)
    detect_local_providers: bool = True
    local_provider_ports: tuple[int, ...] = (11434, 1234)
    providers: tuple[ProviderConfig, ...] = ()
    policy_overrides: Mapping[str, Verdict] = field(default_factory=dict)
    tools: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    approval_timeout_s: float = 120.0
    backup_interval_h: float = 24.0  # [backup] interval_h: scheduled backups (when on)

    @property
    def db_path(self) -> Path:
        """The profile's SQLite database."""
        return self.state_dir / "ora.db"

    @property
    def logs_dir(self) -> Path:
        """The profile's log folder (the only place conversation content may be logged)."""
        return self.state_dir / "logs"

    @property
    def browser_profile_dir(self) -> Path:
        """The profile's persistent browser profile."""
        return self.state_dir / "browser"


def state_root(env: Mapping[str, str]) -> Path:
    """Where all profiles live: ORA_HOME, else the platform's user data dir."""
    home = env.get("ORA_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir(APP_NAME))


def _line_of(text: str, key: str) -> int | None:
    """The first line assigning `key` (or opening table `key`), for error messages."""
    pattern = re.compile(rf"^\s*(\[+\s*)?{re.escape(key)}\s*(=|\]|\.)", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


class _Reader:
    """Typed access to the TOML document that reports file, key and line on any mistake."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, key: str, problem: str) -> ConfigError:
        line = _line_of(self.text, key.rsplit(".", 1)[-1].split("[")[0])
        where = f"{self.path}, line {line}" if line else str(self.path)
        return ConfigError(f"{where}: '{key}' {problem}. Fix the file and start ORA again.")

    def take(
        self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str
    ) -> Any:
        value = table.pop(key)
        if isinstance(value, bool) and kind in (int, float):
            raise self.fail(path, f"must be a {kind.__name__}, not true/false")
        if not isinstance(value, kind):
            expected = (
                kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            )
            raise self.fail(path, f"must be a {expected}, not {type(value).__name__}")
        return value

    def reject_rest(self, table: dict[str, Any], prefix: str) -> None:
        for key in table:
            raise self.fail(f"{prefix}{key}", "is not a setting ORA knows")


def _parse_providers(reader: _Reader, raw: Any) -> tuple[ProviderConfig, ...]:
    if not isinstance(raw, list):
        raise reader.fail("providers", "must be an array of tables ([[providers]])")
    out = []
    for i, entry in enumerate(raw):
        where = f"providers[{i}]"
        if not isinstance(entry, dict):
            raise reader.fail("providers", "must be an array of tables ([[providers]])")
        entry = dict(entry)
        kind = reader.take(entry, "kind", str, f"{where}.kind") if "kind" in entry else "openai"
        if kind not in PROVIDER_KINDS:
            raise reader.fail(f"{where}.kind", f"must be one of {list(PROVIDER_KINDS)}")
        try:
            name = reader.take(entry, "name", str, f"{where}.name")
            # litellm knows the address of the APIs it speaks; base_url only overrides it.
            base_url = (
                reader.take(entry, "base_url", str, f"{where}.base_url")
                if kind == "openai" or "base_url" in entry
                else ""
            )
            model = reader.take(entry, "model", str, f"{where}.model")
        except KeyError as missing:
            raise reader.fail(where, f"needs '{missing.args[0]}'") from None
        if base_url and not base_url.startswith(("http://", "https://")):
            raise reader.fail(f"{where}.base_url", "must start with http:// or https://")
        numbers: dict[str, float] = {}
        for key, low, high in (
            ("timeout_s", 1, 600),
            ("price_in_per_mtok", 0, 10_000),
            ("price_out_per_mtok", 0, 10_000),
        ):
            if key in entry:
                value = reader.take(entry, key, (int, float), f"{where}.{key}")
                if not low <= value <= high:
                    raise reader.fail(f"{where}.{key}", f"must be between {low} and {high}")
                numbers[key] = float(value)
        key_ref = (
            reader.take(entry, "key_ref", str, f"{where}.key_ref") if "key_ref" in entry else ""
        )
        local = reader.take(entry, "local", bool, f"{where}.local") if "local" in entry else False
        roles: tuple[str, ...] = PROVIDER_ROLES
        if "roles" in entry:
            role_list = reader.take(entry, "roles", list, f"{where}.roles")
            bad = [r for r in role_list if r not in PROVIDER_ROLES]
            if bad:
                raise reader.fail(
                    f"{where}.roles", f"has unknown role(s) {bad}; use {list(PROVIDER_ROLES)}"
                )
            roles = tuple(role_list)
        reader.reject_rest(entry, f"{where}.")
        out.append(
            ProviderConfig(
                name=name,
                base_url=base_url,
                model=model,
                key_ref=key_ref,
                roles=roles,
                local=local,
                kind=kind,
                **numbers,
            )
        )
    return tuple(out)


def load_settings(
    profile: str = "private",
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Load the profile's settings; a bad file raises ConfigError and is left untouched."""
    env = os.environ if env is None else env
    try:
        prof = Profile(profile)
    except ValueError:
        raise ConfigError(f"unknown profile {profile!r}: use 'private' or 'shared'") from None
    state_dir = state_root(env) / "profiles" / prof.value
    path = config_path or state_dir / "config.toml"
    values: dict[str, Any] = {}
    if path.exists():
        text = path.read_text(encoding="utf-8")
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(
                f"{path}: not valid TOML ({err}). Fix the file and start ORA again."
            ) from None
        values = _parse_document(_Reader(path, text), doc)
    for env_key, name in (
        ("ORA_RELAY_URL", "relay_url"),
        ("ORA_WEB_URL", "web_url"),
        ("ORA_NODE_NAME", "node_name"),
        ("ORA_LOCALE", "locale"),
    ):
        if env.get(env_key):
            values[name] = env[env_key]
    if env.get("ORA_NO_LOCAL_DETECT"):
        values["detect_local_providers"] = False
    if env.get("ORA_HOME_NETWORK"):
        values["home_network"] = env["ORA_HOME_NETWORK"] not in ("0", "false")
    values["updates"] = _update_settings(values.pop("updates", {}), env)
    return Settings(profile=prof, state_dir=state_dir, config_path=path, **values)


def _parse_document(reader: _Reader, doc: dict[str, Any]) -> dict[str, Any]:
    doc = dict(doc)
    values: dict[str, Any] = {}
    for key in ("node_name", "relay_url", "web_url"):
        if key in doc:
            values[key] = reader.take(doc, key, str, key)
    if "home_network" in doc:
        values["home_network"] = reader.take(doc, "home_network", bool, "home_network")
    if "locale" in doc:
        locale = reader.take(doc, "locale", str, "locale")
        if locale not in ("", "ja", "en"):
            raise reader.fail("locale", 'must be "", "ja" or "en"')
        values["locale"] = locale
    if "updates" in doc:
        values["updates"] = _parse_updates(reader, reader.take(doc, "updates", dict, "updates"))
    if "backup" in doc:
        table = dict(reader.take(doc, "backup", dict, "backup"))
        if "interval_h" in table:
            hours = reader.take(table, "interval_h", (int, float), "backup.interval_h")
            if not 1 <= hours <= 24 * 31:
                raise reader.fail("backup.interval_h", "must be between 1 and 744 hours")
            values["backup_interval_h"] = float(hours)
        reader.reject_rest(table, "backup.")
    if "approval_timeout_s" in doc:
        timeout = reader.take(doc, "approval_timeout_s", (int, float), "approval_timeout_s")
        if not 5 <= timeout <= 3600:
            raise reader.fail("approval_timeout_s", "must be between 5 and 3600 seconds")
        values["approval_timeout_s"] = float(timeout)
    if "local_server" in doc:
        table = dict(reader.take(doc, "local_server", dict, "local_server"))
        if "host" in table:
            values["local_host"] = reader.take(table, "host", str, "local_server.host")
        if "port" in table:
            port = reader.take(table, "port", int, "local_server.port")
            if not 0 <= port <= 65535:
                raise reader.fail("local_server.port", "must be between 0 and 65535")
            values["local_port"] = port
        if "expose_lan" in table:
            values["expose_lan"] = reader.take(table, "expose_lan", bool, "local_server.expose_lan")
        reader.reject_rest(table, "local_server.")
    if "detect_local_providers" in doc:
        values["detect_local_providers"] = reader.take(
            doc, "detect_local_providers", bool, "detect_local_providers"
        )
    if "providers" in doc:
        values["providers"] = _parse_providers(reader, doc.pop("providers"))
    if "policy" in doc:
        policy = dict(reader.take(doc, "policy", dict, "policy"))
        overrides = (
            dict(reader.take(policy, "overrides", dict, "policy.overrides"))
            if "overrides" in policy
            else {}
        )
        reader.reject_rest(policy, "policy.")
        parsed: dict[str, Verdict] = {}
        for tool, verdict in overrides.items():
            if verdict not in ("allow", "ask", "deny"):
                raise reader.fail(f"policy.overrides.{tool}", 'must be "allow", "ask" or "deny"')
            parsed[tool] = Verdict(verdict)
        values["policy_overrides"] = parsed
    if "tools" in doc:
        tools = reader.take(doc, "tools", dict, "tools")
        for name, table in tools.items():
            if not isinstance(table, dict):
                raise reader.fail(f"tools.{name}", "must be a table ([tools.NAME])")
        values["tools"] = tools
    reader.reject_rest(doc, "")
    return values


def _parse_updates(reader: _Reader, raw: dict[str, Any]) -> dict[str, Any]:
    table = dict(raw)
    out: dict[str, Any] = {}
    if "enabled" in table:
        out["enabled"] = reader.take(table, "enabled", bool, "updates.enabled")
    if "url" in table:
        url = reader.take(table, "url", str, "updates.url")
        if url and not url.startswith(("http://", "https://")):
            raise reader.fail("updates.url", "must start with https:// (or http://)")
        out["url"] = url
    if "channel" in table:
        channel = reader.take(table, "channel", str, "updates.channel")
        if channel not in UPDATE_CHANNELS:
            raise reader.fail("updates.channel", f"must be one of {list(UPDATE_CHANNELS)}")
        out["channel"] = channel
    if "check_interval_h" in table:
        hours = reader.take(table, "check_interval_h", (int, float), "updates.check_interval_h")
        if not 1 <= hours <= 24 * 30:
            raise reader.fail("updates.check_interval_h", "must be between 1 and 720 hours")
        out["check_interval_h"] = float(hours)
    if out.get("enabled") and not out.get("url"):
        raise reader.fail("updates.enabled", "is true but 'updates.url' is not set")
    reader.reject_rest(table, "updates.")
    return out


def _update_settings(values: dict[str, Any], env: Mapping[str, str]) -> UpdateSettings:
    """The file's `[updates]`, then the environment; enabled defaults to "a URL is set"."""
    values = dict(values)
    if env.get("ORA_UPDATE_URL"):
        values["url"] = env["ORA_UPDATE_URL"]
    values.setdefault("enabled", bool(values.get("url")))
    if env.get("ORA_INSTALL_ROOT"):
        values["install_root"] = Path(env["ORA_INSTALL_ROOT"])
    if env.get("ORA_HEALTH_FILE"):
        values["health_file"] = Path(env["ORA_HEALTH_FILE"])
    return UpdateSettings(**values)
