"""The profile is private on disk, seen as another local account would see it.

The other account is `nobody` (uid 65534): the test drops to it in a child process and tries
to read the history, before and after ORA starts.
"""

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.node.test_one_node_per_profile import node_env

ROOT = Path(__file__).resolve().parents[2]
NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="becoming another account needs root")


@pytest.fixture
def home() -> Iterator[Path]:
    """A folder other accounts can reach (pytest's own tmp folder is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ora-private-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ora(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        env=node_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def as_other_user(*cmd: str) -> subprocess.CompletedProcess[str]:
    def become() -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    return subprocess.run(
        list(cmd), capture_output=True, text=True, errors="replace", timeout=30, preexec_fn=become
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def old_style_profile(home: Path) -> Path:
    """A profile as earlier versions left it: folder 0755, database and log 0644."""
    os.chmod(home, 0o755)
    state = home / "profiles" / "private"
    (state / "logs").mkdir(parents=True)
    db = sqlite3.connect(state / "ora.db")
    db.execute("CREATE TABLE messages (content TEXT)")
    db.execute("INSERT INTO messages VALUES ('my bank PIN is 4921')")
    db.commit()
    db.close()
    (state / "logs" / "ora.log").write_text("a conversation line\n")
    for path, m in (
        (home / "profiles", 0o755),
        (state, 0o755),
        (state / "logs", 0o755),
        (state / "ora.db", 0o644),
        (state / "logs" / "ora.log", 0o644),
    ):
        os.chmod(path, m)
    return state


def test_another_account_can_no_longer_read_the_history_after_a_start(home: Path) -> None:
    state = old_style_profile(home)
    # The attack works on the old layout...
    before = as_other_user("cat", str(state / "ora.db"))
    assert before.returncode == 0 and "4921" in before.stdout
    # ...ORA starts (any command) and fixes it, saying so in its log.
    run = ora(home, "audit", "show")
    assert run.returncode == 0, run.stderr
    assert mode(state) == 0o700 and mode(state / "logs") == 0o700
    for name in ("ora.db", "logs/ora.log"):
        assert mode(state / name) == 0o600, name
    for path in state.iterdir():
        if path.is_file():
            assert mode(path) & 0o077 == 0, path
    after = as_other_user("cat", str(state / "ora.db"))
    assert after.returncode != 0 and "Permission denied" in after.stderr
    listing = as_other_user("ls", str(state))
    assert listing.returncode != 0
    assert "made private" in (state / "logs" / "ora.log").read_text()


def test_a_fresh_profile_is_private_from_the_first_file(home: Path) -> None:
    run = ora(home, "audit", "show")
    assert run.returncode == 0, run.stderr
    state = home / "profiles" / "private"
    assert mode(state) == 0o700
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name == "ora.db" for p in files)
    for f in files:
        assert mode(f) & 0o077 == 0, f


def test_a_profile_folder_owned_by_another_account_is_refused(home: Path) -> None:
    state = old_style_profile(home)
    os.chown(state, NOBODY, NOBODY)
    run = ora(home, "audit", "show")
    assert run.returncode == 2
    assert "belongs to another account" in run.stderr and "ORA_HOME" in run.stderr
    assert mode(state / "ora.db") == 0o644, "nothing was opened or changed"
