"""A new version that fails its start is rolled back, program and data together."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.installer.conftest import Setup

pytestmark = pytest.mark.slow


def _schema(setup: Setup) -> int:
    db = sqlite3.connect(setup.home / "profiles" / "private" / "ora.db")
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _update_to(setup: Setup, behaviour: str) -> None:
    assert setup.ora("note", "written by v1").returncode == 0
    setup.publish("0.2.0", behaviour, schema=2)
    applied = setup.ora("update", "apply")
    assert applied.returncode == 0 and "installed 0.2.0" in applied.stdout, applied.stderr


def test_a_version_that_crashes_at_start_is_rolled_back(setup: Setup) -> None:
    _update_to(setup, "crash")
    run = setup.ora()
    # The launcher saw 0.2.0 die, went back to 0.1.0, and 0.1.0 served this very start.
    assert "crashed at start" in run.stderr
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["version"] == "0.1.0" and out["notes"] == ["written by v1"]
    assert "ORA 0.2.0 exited with code 1 before it reported a healthy start" in out["notice"]
    assert "went back to 0.1.0" in out["notice"]
    state = setup.state()
    assert state["stable"] == "0.1.0" and state["trial"] is None and state["failed"] == ["0.2.0"]
    assert not setup.root.version_dir("0.2.0").exists()
    report = json.loads(next(setup.root.reports_dir.glob("rollback-0.2.0-*.json")).read_text())
    assert report["failed_version"] == "0.2.0" and report["running_version"] == "0.1.0"
    # Shown once; later starts run 0.1.0 quietly, and the failed release is not offered again.
    later = json.loads(setup.ora().stdout)
    assert later["version"] == "0.1.0" and later["notice"] is None
    assert "up to date" in setup.ora("update", "check").stdout


def test_a_version_that_migrated_the_data_then_failed_leaves_v1_on_its_own_data(
    setup: Setup,
) -> None:
    _update_to(setup, "migrate-then-fail")
    assert _schema(setup) == 1
    run = setup.ora()
    assert "failed after migrating the data" in run.stderr
    out = json.loads(run.stdout)
    # 0.1.0 refuses data newer than its schema (exit 4): reaching here means it was restored.
    assert run.returncode == 0, run.stdout
    assert out["version"] == "0.1.0" and out["schema"] == 1
    assert out["notes"] == ["written by v1"], "what the failed version wrote is gone with it"
    assert "your data as it was before the update" in out["notice"]
    assert _schema(setup) == 1
    assert not list(setup.root.path.glob("snapshots/*"))


def test_a_version_that_hangs_at_start_is_rolled_back_after_the_deadline(setup: Setup) -> None:
    _update_to(setup, "crash")
    # Replace the trial program with one that never reports healthy.
    exe = setup.root.executable("0.2.0")
    exe.write_text(f"#!{exe.read_text().splitlines()[0][2:]}\nimport time\ntime.sleep(60)\n")
    run = setup.ora(ORA_HEALTH_DEADLINE_S="1")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["version"] == "0.1.0"
    assert "did not report a healthy start within 1 s" in out["notice"]


def test_a_short_command_on_trial_does_not_decide(setup: Setup) -> None:
    _update_to(setup, "good")
    assert setup.ora("--version").stdout.strip() == "ora 0.2.0"
    assert setup.state()["trial"] is not None, "--version says nothing about a healthy start"
    assert json.loads(setup.ora().stdout)["version"] == "0.2.0"
    assert setup.state()["stable"] == "0.2.0"


def test_a_version_that_exits_0_without_the_health_signal_is_rolled_back(setup: Setup) -> None:
    """Before: it stayed on trial, and every later start (updates included) ran it."""
    _update_to(setup, "quit-quietly")
    run = setup.ora()
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["version"] == "0.1.0"
    assert "ORA 0.2.0 exited with code 0 before it reported a healthy start" in out["notice"]
    state = setup.state()
    assert state["stable"] == "0.1.0" and state["trial"] is None and state["failed"] == ["0.2.0"]


@pytest.mark.parametrize("args", [("--help",), ("audit", "verify", "--help"), ()])
def test_inconclusive_exits_leave_the_trial_pending(setup: Setup, args: tuple[str, ...]) -> None:
    """--help says nothing; neither does a start that found ORA already running."""
    _update_to(setup, "already-running" if not args else "quit-quietly")
    run = setup.ora(*args)
    assert setup.state()["trial"] is not None, run.stderr
    assert setup.state()["stable"] == "0.1.0"
