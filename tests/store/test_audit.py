"""`ora audit verify` finds every edited, inserted or deleted row, and says which."""

import sqlite3
from pathlib import Path

import pytest

from app.cli import main
from app.policy.gate import Profile
from app.store.audit import AuditLog
from app.store.db import open_db
from app.store.secrets import SecretStore


def _log(tmp_path: Path, rows: int = 5) -> tuple[AuditLog, Path, SecretStore]:
    secrets = SecretStore.open(Profile.PRIVATE, tmp_path, use_keyring=False)
    db = open_db(tmp_path / "ora.db")
    log = AuditLog(db, secrets)
    for i in range(rows):
        log.record(
            user_id="owner",
            role="owner",
            channel="terminal",
            tool=f"t{i}",
            args_digest="d" * 64,
            risk="LOW",
            decision="allow",
            outcome="ok",
        )
    return log, tmp_path / "ora.db", secrets


def _sql(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_intact_log_verifies(tmp_path: Path) -> None:
    log, _, _ = _log(tmp_path)
    assert log.verify() is None


def test_edited_row_is_found(tmp_path: Path) -> None:
    log, path, _ = _log(tmp_path)
    _sql(path, "UPDATE audit SET outcome='denied' WHERE seq=3")
    problem = log.verify()
    assert problem is not None and problem.seq == 3 and "edited" in problem.problem


def test_deleted_middle_row_is_found(tmp_path: Path) -> None:
    log, path, _ = _log(tmp_path)
    _sql(path, "DELETE FROM audit WHERE seq=2")
    problem = log.verify()
    assert problem is not None and problem.seq == 2 and "missing" in problem.problem


def test_deleted_last_rows_are_found(tmp_path: Path) -> None:
    log, path, _ = _log(tmp_path)
    _sql(path, "DELETE FROM audit WHERE seq>=4")
    problem = log.verify()
    assert problem is not None and problem.seq == 4 and "deleted" in problem.problem


def test_inserted_row_is_found(tmp_path: Path) -> None:
    log, path, _ = _log(tmp_path)
    # Renumber to make room, then forge a row with a plausible (but keyless) MAC.
    _sql(path, "UPDATE audit SET seq = seq + 100 WHERE seq >= 3")
    _sql(path, "UPDATE audit SET seq = seq - 99 WHERE seq >= 103")
    _sql(
        path,
        "INSERT INTO audit VALUES (3, 0, 'owner', 'owner', 'x', 'shell', '', 'CRITICAL', 'allow', '', 'ok', '', '')",
    )
    problem = log.verify()
    assert problem is not None and problem.seq == 3


def test_appended_forged_row_is_found(tmp_path: Path) -> None:
    log, path, _ = _log(tmp_path)
    _sql(
        path,
        "INSERT INTO audit VALUES (6, 0, 'owner', 'owner', 'x', 'shell', '', 'CRITICAL', 'allow', '', 'ok', '', '')",
    )
    assert log.verify() is not None


def test_cli_exit_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORA_HOME", str(tmp_path))
    monkeypatch.setenv("ORA_NO_LOCAL_DETECT", "1")
    monkeypatch.setattr("app.store.secrets.usable_keyring", lambda: None)
    assert main(["self-test"]) == 0
    db = tmp_path / "profiles" / "private" / "ora.db"
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    from app.store.db import open_db as _open

    secrets = SecretStore.open(Profile.PRIVATE, db.parent)
    log = AuditLog(_open(db), secrets)
    log.record(
        user_id="owner",
        role="owner",
        channel="terminal",
        tool="recall",
        args_digest="",
        risk="LOW",
        decision="allow",
        outcome="ok",
    )
    log.record(
        user_id="owner",
        role="owner",
        channel="terminal",
        tool="recall",
        args_digest="",
        risk="LOW",
        decision="allow",
        outcome="ok",
    )
    _sql(db, "UPDATE audit SET tool='nothing' WHERE seq=1")
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert "TAMPERED" in out and "row 1" in out
