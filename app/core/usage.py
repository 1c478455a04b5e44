"""A local record of every model call: provider, role, tokens, cost, outcome.

It stays in the profile's database on the owner's PC (no conversation content, only counts),
so the owner can see what each provider costs: `ora providers --usage` and the tray's
Providers dialog. When a provider does not report its token counts, they are estimated from
the text (4 characters a token) and the row says so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

TABLE = "provider_usage"


@dataclass(frozen=True, kw_only=True)
class UsageTotals:
    """One provider's calls and tokens over a period."""

    provider: str
    calls: int
    failures: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    estimated: bool  # some of the counts were estimated


def estimate_tokens(text: str) -> int:
    """A rough count for providers that report none (about 4 characters a token)."""
    return (len(text) + 3) // 4


class UsageLedger:
    """Appends one row per call; sums them per provider."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self._db = db
        if TABLE not in db.table_names():
            db.table(TABLE).create(
                {
                    "id": int,
                    "ts": float,
                    "provider": str,
                    "role": str,
                    "model": str,
                    "prompt_tokens": int,
                    "completion_tokens": int,
                    "cost_usd": float,
                    "estimated": int,
                    "outcome": str,
                    "seconds": float,
                },
                pk="id",
            )
            db.table(TABLE).create_index(["provider", "ts"])

    def record(
        self,
        *,
        provider: str,
        role: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost_usd: float,
        estimated: bool,
        outcome: str,
        seconds: float,
    ) -> None:
        """One call's row (outcome: ok, error, timeout, cancelled)."""
        self._db.table(TABLE).insert(
            {
                "ts": time.time(),
                "provider": provider,
                "role": role,
                "model": model,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost_usd,
                "estimated": int(estimated),
                "outcome": outcome,
                "seconds": round(seconds, 4),
            }
        )

    def totals(self, since: float = 0.0) -> list[UsageTotals]:
        """Per provider since a time (0: ever), most expensive first."""
        rows = self._db.execute(
            "SELECT provider, COUNT(*), SUM(outcome != 'ok'), SUM(prompt_tokens), "
            "SUM(completion_tokens), SUM(cost_usd), MAX(estimated) FROM provider_usage "
            "WHERE ts >= ? GROUP BY provider ORDER BY SUM(cost_usd) DESC, provider",
            [since],
        ).fetchall()
        return [
            UsageTotals(
                provider=str(p),
                calls=int(n),
                failures=int(f or 0),
                prompt_tokens=int(pt or 0),
                completion_tokens=int(ct or 0),
                cost_usd=float(c or 0.0),
                estimated=bool(e),
            )
            for p, n, f, pt, ct, c, e in rows
        ]


def format_totals(totals: list[UsageTotals]) -> list[str]:
    """Lines a person can read, for the terminal and the tray."""
    lines = []
    for t in totals:
        approx = "~" if t.estimated else ""
        failed = f", {t.failures} failed" if t.failures else ""
        lines.append(
            f"{t.provider}: {t.calls} calls{failed}, {approx}{t.prompt_tokens} in / "
            f"{approx}{t.completion_tokens} out tokens, ${t.cost_usd:.4f}"
        )
    return lines
