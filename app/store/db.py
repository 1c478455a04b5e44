"""The profile's SQLite database (sqlite-utils), created with its tables on first open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
import sqlite_utils.plugins

# ORA uses no sqlite-utils plugins. Left alone, opening a Database scans every installed
# package's entry points for them (~15 ms here, far more on a slow disk, on the way to the
# first answer) and would run whatever a package registered inside ORA's database layer.
sqlite_utils.plugins._plugins_loaded = True

SCHEMA_VERSION = 1


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (and if new, create) the profile database; WAL so readers never block the writer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    db = sqlite_utils.Database(conn)
    _migrate(db)
    return db


def _migrate(db: sqlite_utils.Database) -> None:
    if "messages" not in db.table_names():
        db.table("messages").create(
            {
                "id": int,
                "user_id": str,
                "role": str,
                "guild_id": str,
                "speaker": str,
                "content": str,
                "ts": float,
            },
            pk="id",
        )
        db.table("messages").create_index(["user_id", "role", "guild_id", "id"])
    if "notes" not in db.table_names():
        db.table("notes").create(
            {"id": int, "user_id": str, "role": str, "guild_id": str, "text": str, "ts": float},
            pk="id",
        )
        db.table("notes").create_index(["user_id", "role", "guild_id"])
        db.table("notes").enable_fts(
            ["text"], fts_version="FTS5", create_triggers=True, tokenize="trigram"
        )
    if "audit" not in db.table_names():
        db.table("audit").create(
            {
                "seq": int,
                "ts": float,
                "user_id": str,
                "role": str,
                "channel": str,
                "tool": str,
                "args_digest": str,
                "risk": str,
                "decision": str,
                "approver": str,
                "outcome": str,
                "prev": str,
                "mac": str,
            },
            pk="seq",
        )
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
