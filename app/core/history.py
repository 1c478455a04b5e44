"""The conversation history a model is shown: whole turns only, older ones summarised.

A turn is one user message and the assistant messages that answered it. The history is cut
between turns, never inside one, so the model never sees an answer without its question (or,
were tool results kept, a tool result without the call that asked for it). When turns fall
out of the window, the cheap role folds them into a running summary (stored per partition),
which the prompt carries instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from app.store.memory import Partition

MAX_TURNS = 10
MAX_CHARS = 12_000  # of history text shown to the model (roughly 3k tokens)
FETCH = 60  # messages read to build the window
SUMMARY_TABLE = "history_summaries"


@dataclass(frozen=True, kw_only=True)
class Turn:
    """One user message and its answers."""

    messages: tuple[tuple[str, str], ...]  # (speaker, content)
    last_id: int  # the newest message's row id

    @property
    def chars(self) -> int:
        """Size of the turn's text."""
        return sum(len(c) for _, c in self.messages)


def whole_turns(rows: list[tuple[int, str, str]]) -> list[Turn]:
    """Group (id, speaker, content) rows into turns; rows before the first user message go."""
    turns: list[tuple[list[tuple[str, str]], int]] = []
    for row_id, speaker, content in rows:
        if speaker == "user":
            turns.append(([(speaker, content)], row_id))
        elif turns:
            turns[-1][0].append((speaker, content))
            turns[-1] = (turns[-1][0], row_id)
        # else: an answer whose question is outside the window: dropped, never orphaned
    return [Turn(messages=tuple(m), last_id=last) for m, last in turns]


def window(
    turns: list[Turn], max_turns: int = MAX_TURNS, max_chars: int = MAX_CHARS
) -> tuple[list[Turn], list[Turn]]:
    """(older turns left out, the newest whole turns that fit), both oldest first."""
    kept: list[Turn] = []
    size = 0
    for turn in reversed(turns):
        if len(kept) >= max_turns or (kept and size + turn.chars > max_chars):
            break
        kept.append(turn)
        size += turn.chars
    kept.reverse()
    return turns[: len(turns) - len(kept)], kept


class HistorySummaries:
    """One running summary per partition, of the turns that fell out of the window."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        if SUMMARY_TABLE not in db.table_names():
            db.table(SUMMARY_TABLE).create(
                {"user_id": str, "role": str, "guild_id": str, "text": str, "upto": int},
                pk=("user_id", "role", "guild_id"),
            )

    def get(self, part: Partition) -> tuple[str, int]:
        """(summary text, id of the newest message it covers) for a partition."""
        row = self._db.execute(
            f"SELECT text, upto FROM {SUMMARY_TABLE} WHERE user_id=? AND role=? AND guild_id=?",  # noqa: S608
            [part.user_id, part.role, part.guild_id],
        ).fetchone()
        return (str(row[0]), int(row[1])) if row else ("", 0)

    def put(self, part: Partition, text: str, upto: int) -> None:
        """Replace a partition's summary."""
        self._db.table(SUMMARY_TABLE).upsert(
            {
                "user_id": part.user_id,
                "role": part.role,
                "guild_id": part.guild_id,
                "text": text,
                "upto": upto,
            },
            pk=("user_id", "role", "guild_id"),
        )
