"""The two engines the Relay's store runs on, behind one small interface.

The store (`relay_server.storage`) writes each query once, with PostgreSQL's numbered
parameters ($1, $2...); SQLite receives them as its own numbered ?1, ?2 (same order). Both
engines answer rows as plain dicts and writes as the number of rows changed, and run a block
of statements as one transaction (`transaction()`), which is what keeps the ledger's
check-then-write steps atomic across workers and Relay instances.

SQLite: the embedded default for one process; calls are local, short and synchronous (they
never suspend the event loop, so a transaction's statements cannot interleave with another
coroutine's), serialised by a lock for callers on other threads.
PostgreSQL (asyncpg): several Relay instances sharing one database.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from relay_server import schema
from relay_server.schema import Dialect

Row = dict[str, Any]
_SCHEMA_LOCK = 0x0A5E1A7  # advisory lock: two instances starting together migrate once


class Conflict(Exception):
    """A write would duplicate a unique key (a node credential, a device or token id...)."""


class Queries(Protocol):
    """What a query runs on: the database, or a transaction open on it."""

    async def execute(self, sql: str, *args: Any) -> int: ...
    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...
    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...
    async def fetchval(self, sql: str, *args: Any) -> Any: ...


class Database(Queries, Protocol):
    dialect: Dialect

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Queries]: ...
    async def close(self) -> None: ...


@functools.lru_cache(maxsize=256)
def _qmarks(sql: str) -> str:
    return re.sub(r"\$(\d+)", r"?\1", sql)


def _as_dict(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    return {column[0]: value for column, value in zip(cursor.description, values, strict=True)}


class SqliteDatabase:
    """One SQLite file (WAL), schema migrated when opened."""

    dialect = schema.SQLITE

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = _as_dict
        self._conn.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL cannot corrupt the database; it may lose the last commits
        # on a power cut (not on a crash of the Relay). FULL fsyncs every commit, ~2 ms on the
        # Cloud claim's path; the embedded store is for one machine, PostgreSQL for production.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()
        with self._write():
            self._conn.execute(schema.VERSION_TABLE)
            current = self._conn.execute(schema.CURRENT_VERSION).fetchone()
            for statement in schema.plan(self.dialect, next(iter(current.values()))):
                self._conn.execute(statement)

    @contextlib.contextmanager
    def _write(self) -> Any:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _run(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(_qmarks(sql), args)
        except sqlite3.IntegrityError as err:
            raise Conflict(str(err)) from None

    async def execute(self, sql: str, *args: Any) -> int:
        with self._lock:
            return self._run(sql, args).rowcount

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        with self._lock:
            return self._run(sql, args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return next(iter(row.values())) if row else None

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        with self._write():
            yield self

    async def close(self) -> None:
        self._conn.close()


def _changed(status: str) -> int:
    """Rows changed, from asyncpg's command status ('UPDATE 1', 'INSERT 0 1')."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PgQueries:
    """Queries on a pool (each its own transaction) or on one connection inside a transaction."""

    def __init__(self, target: asyncpg.Pool | asyncpg.Connection) -> None:
        self._target = target

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            return _changed(await self._target.execute(sql, *args))
        except asyncpg.IntegrityConstraintViolationError as err:
            raise Conflict(str(err)) from None

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return [dict(r) for r in await self._target.fetch(sql, *args)]

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row = await self._target.fetchrow(sql, *args)
        return dict(row) if row is not None else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._target.fetchval(sql, *args)


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """What a connection returned to the pool needs beyond asyncpg's own rollback of an open
    transaction: nothing. The Relay never sets session state (no SET, LISTEN, cursor or
    session-level advisory lock), and asyncpg's default reset (RESET ALL, UNLISTEN *...) is a
    round trip after every query: a third of a hello's database time in a reconnect storm."""


class PostgresDatabase(_PgQueries):
    """A pool on one PostgreSQL database, schema migrated when opened."""

    dialect = schema.POSTGRES

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresDatabase:
        pool = await asyncpg.create_pool(
            dsn, min_size=1, max_size=10, command_timeout=10, reset=_keep_session
        )
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            await conn.execute(schema.VERSION_TABLE)
            current = await conn.fetchval(schema.CURRENT_VERSION)
            for statement in schema.plan(cls.dialect, current):
                await conn.execute(statement)
        return cls(pool)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _PgQueries(conn)

    async def close(self) -> None:
        await self._pool.close()
