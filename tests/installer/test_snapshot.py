"""The data snapshot taken before a new version first opens the profile, and its restore."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.update import snapshot


def test_snapshot_of_a_live_wal_database_restores_exactly(tmp_path: Path) -> None:
    data = tmp_path / "profiles"
    (data / "private").mkdir(parents=True)
    (data / "private" / "config.toml").write_text('node_name = "pc"\n')
    db_path = data / "private" / "ora.db"
    live = sqlite3.connect(db_path)
    live.execute("PRAGMA journal_mode=WAL")
    live.execute("CREATE TABLE notes (text TEXT)")
    live.executemany("INSERT INTO notes VALUES (?)", [("one",), ("two",)])
    live.commit()  # committed to the WAL; the main file is not checkpointed yet
    assert (data / "private" / "ora.db-wal").stat().st_size > 0

    snapshot.take(data, tmp_path / "snap")

    # The new version migrates and writes, then fails.
    live.execute("ALTER TABLE notes ADD COLUMN tag TEXT")
    live.execute("INSERT INTO notes VALUES ('three', 'new')")
    live.execute("PRAGMA user_version = 2")
    live.commit()
    live.close()
    (data / "private" / "new-file").write_text("left by the failed version")

    snapshot.restore(tmp_path / "snap", data)

    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    assert [r[0] for r in db.execute("SELECT text FROM notes")] == ["one", "two"]
    assert [c[1] for c in db.execute("PRAGMA table_info(notes)")] == ["text"]
    db.close()
    assert (data / "private" / "config.toml").read_text() == 'node_name = "pc"\n'
    assert not (data / "private" / "new-file").exists()


def test_snapshot_of_no_data_yet_restores_to_no_data(tmp_path: Path) -> None:
    data = tmp_path / "profiles"
    snapshot.take(data, tmp_path / "snap")
    (data / "private").mkdir(parents=True)
    (data / "private" / "ora.db").write_bytes(b"made by the failed version")
    snapshot.restore(tmp_path / "snap", data)
    assert not data.exists()
