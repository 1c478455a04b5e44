"""Conversation history and long-term notes, partitioned by (user_id, role, guild_id).

Every read takes the full partition key, so one user's request can never read another's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True, kw_only=True)
class Partition:
    """Whose memory: a user, in a role, in a space."""

    user_id: str
    role: str
    guild_id: str


@dataclass(frozen=True, kw_only=True)
class Note:
    """A long-term note."""

    id: int
    text: str
    ts: float


class MemoryStore:
    """History and notes in the profile database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db

    def append(self, part: Partition, speaker: str, content: str) -> int:
        """Add one message to the partition's history; returns its row id."""
        table = self._db.table("messages")
        table.insert(
            {
                "user_id": part.user_id,
                "role": part.role,
                "guild_id": part.guild_id,
                "speaker": speaker,
                "content": content,
                "ts": time.time(),
            }
        )
        return int(str(table.last_pk))

    def history(self, part: Partition, limit: int = 20) -> list[tuple[str, str]]:
        """The partition's last `limit` messages, oldest first, as (speaker, content)."""
        rows = self._db.execute(
            "SELECT speaker, content FROM messages WHERE user_id=? AND role=? AND guild_id=? "
            "ORDER BY id DESC LIMIT ?",
            [part.user_id, part.role, part.guild_id, limit],
        ).fetchall()
        return [(str(s), str(c)) for s, c in reversed(rows)]

    def history_rows(self, part: Partition, limit: int = 60) -> list[tuple[int, str, str]]:
        """The partition's last `limit` messages, oldest first, as (id, speaker, content)."""
        rows = self._db.execute(
            "SELECT id, speaker, content FROM messages WHERE user_id=? AND role=? AND guild_id=? "
            "ORDER BY id DESC LIMIT ?",
            [part.user_id, part.role, part.guild_id, limit],
        ).fetchall()
        return [(int(i), str(s), str(c)) for i, s, c in reversed(rows)]

    def remember(self, part: Partition, text: str) -> Note:
        """Keep a long-term note."""
        now = time.time()
        table = self._db.table("notes")
        table.insert(
            {
                "user_id": part.user_id,
                "role": part.role,
                "guild_id": part.guild_id,
                "text": text,
                "ts": now,
            }
        )
        return Note(id=int(str(table.last_pk)), text=text, ts=now)

    def recall(self, part: Partition, query: str, limit: int = 5) -> list[Note]:
        """Notes of this partition matching the query (FTS5 trigram; short words by substring)."""
        terms = [t for t in query.split() if t]
        if not terms:
            return []
        if all(len(t) >= 3 for t in terms):
            match = " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)
            sql = (
                "SELECT n.id, n.text, n.ts FROM notes n JOIN notes_fts f ON f.rowid = n.id "
                "WHERE notes_fts MATCH ? AND n.user_id=? AND n.role=? AND n.guild_id=? "
                "ORDER BY f.rank LIMIT ?"
            )
            params: list[object] = [match, part.user_id, part.role, part.guild_id, limit]
        else:
            # FTS5 trigrams need three characters; shorter queries match as a substring.
            sql = (
                "SELECT n.id, n.text, n.ts FROM notes n WHERE instr(lower(n.text), lower(?)) > 0 "
                "AND n.user_id=? AND n.role=? AND n.guild_id=? ORDER BY n.id DESC LIMIT ?"
            )
            params = [query.strip(), part.user_id, part.role, part.guild_id, limit]
        rows = self._db.execute(sql, params).fetchall()
        return [Note(id=int(i), text=str(t), ts=float(ts)) for i, t, ts in rows]

    # -- what was written from untrusted content (the taint rule, app/policy/taint.py) ----------

    def mark_untrusted(self, kind: str, row_id: int) -> None:
        """Remember that a message or note was written from untrusted content."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS untrusted_rows (kind TEXT, row_id INTEGER, "
            "PRIMARY KEY (kind, row_id))"
        )
        self._db.execute(
            "INSERT OR IGNORE INTO untrusted_rows (kind, row_id) VALUES (?, ?)", [kind, row_id]
        )
        self._db.conn.commit()

    def untrusted(self, kind: str, row_ids: list[int]) -> bool:
        """Was any of these rows written from untrusted content?"""
        if not row_ids or "untrusted_rows" not in self._db.table_names():
            return False
        marks = ",".join("?" * len(row_ids))
        row = self._db.execute(
            f"SELECT 1 FROM untrusted_rows WHERE kind=? AND row_id IN ({marks}) LIMIT 1",  # noqa: S608
            [kind, *row_ids],
        ).fetchone()
        return row is not None
