"""The Node's core objects for one profile, opened and closed together (Qt-free)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from app.core.assistant import Assistant
from app.core.commands import Commands
from app.core.history import HistorySummaries
from app.core.housekeeping import Housekeeping
from app.core.providers import ProviderPool, detect_local_servers
from app.core.usage import UsageLedger
from app.policy.approvals import ApprovalBroker
from app.settings import Settings
from app.store.audit import AuditLog
from app.store.db import open_db
from app.store.memory import MemoryStore
from app.store.secrets import SecretStore
from app.tools.browser import DEFAULT_EXECUTABLE, BrowserPool
from app.tools.registry import ToolRegistry, builtin_tools
from app.update.health import mark_healthy

_LOGGER = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Store, secrets, providers, tools, approvals and the assistant of one profile."""

    settings: Settings
    db: sqlite_utils.Database
    secrets: SecretStore
    providers: ProviderPool
    registry: ToolRegistry
    broker: ApprovalBroker
    assistant: Assistant
    audit: AuditLog
    memory: MemoryStore
    browser: BrowserPool
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @classmethod
    async def open(cls, settings: Settings, *, secrets: SecretStore | None = None) -> Runtime:
        """Open everything; local model servers are looked for in the background."""
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        secrets = secrets or SecretStore.open(settings.profile, settings.state_dir)
        db = open_db(settings.db_path)
        memory = MemoryStore(db)
        audit = AuditLog(db, secrets)
        usage = UsageLedger(db)
        providers = ProviderPool.from_config(settings.providers, secrets, usage)
        registry = ToolRegistry(builtin_tools())
        broker = ApprovalBroker(default_timeout_s=settings.approval_timeout_s)
        browser_cfg = settings.tools.get("browser", {})
        browser_pool = BrowserPool(
            settings.browser_profile_dir,
            str(browser_cfg.get("executable", DEFAULT_EXECUTABLE)),
            local_only=bool(browser_cfg.get("local_only", False)),
            allow_private=bool(browser_cfg.get("allow_private", False)),
        )
        assistant = Assistant(
            profile=settings.profile,
            state_dir=settings.state_dir,
            providers=providers,
            registry=registry,
            broker=broker,
            memory=memory,
            audit=audit,
            policy_overrides=dict(settings.policy_overrides),
            tool_config={k: dict(v) for k, v in settings.tools.items()},
            commands=Commands(),
        )
        assistant.tool_extras = {"browser": browser_pool, "generate": assistant.generate}
        assistant.housekeeping = Housekeeping(providers, memory, HistorySummaries(db))
        runtime = cls(
            settings=settings,
            db=db,
            secrets=secrets,
            providers=providers,
            registry=registry,
            broker=broker,
            assistant=assistant,
            audit=audit,
            memory=memory,
            browser=browser_pool,
        )
        if settings.detect_local_providers:
            runtime._spawn(runtime._detect_local())
        # litellm only if a provider needs it, imported in a thread after start-up.
        runtime._spawn(providers.warm())
        # The core opened the profile's data: an updated version on trial has proved itself
        # (app/update/launcher.py); every front end, the tray included, gets this for free.
        mark_healthy(settings.updates.health_file)
        return runtime

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _detect_local(self) -> None:
        for cfg in await detect_local_servers(self.settings.local_provider_ports):
            _LOGGER.info("found a local model server: %s (%s)", cfg.name, cfg.base_url)
            self.providers.add_local(cfg)

    async def wait_ready(self) -> None:
        """Wait for background start-up work (local server detection)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Deny pending approvals, stop background work, close the database."""
        self.broker.cancel_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.assistant.housekeeping is not None:
            await self.assistant.housekeeping.close()
        await self.browser.close()
        await self.providers.close()
        self.db.close()
