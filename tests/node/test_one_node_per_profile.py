"""One Node per profile, tried with real processes: a second start, a crash, Ctrl+C."""

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.profile_lock import ALREADY_RUNNING, AlreadyRunning, ProfileLock

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def node_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ORA_") and k not in ("DISPLAY", "WAYLAND_DISPLAY", "LANG", "LC_ALL")
    }
    env |= {
        "ORA_HOME": str(home),
        "ORA_RELAY_URL": "http://127.0.0.1:9",  # nothing listens: the Node stays offline
        "ORA_NO_LOCAL_DETECT": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    return env | extra


def private_profile(home: Path) -> Path:
    state = home / "profiles" / "private"
    state.mkdir(parents=True, exist_ok=True)
    # Any free port for the local server: tests run beside each other and beside `make run`.
    (state / "config.toml").write_text("[local_server]\nport = 0\n")
    return state


class Node:
    """`ora --headless` as a child process whose output is read line by line."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app", "--headless", *args],
            cwd=ROOT,
            env=node_env(home, **env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []

    def wait_for(self, text: str, timeout: float = 60) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if text in line:
                return
        raise AssertionError(f"never saw {text!r}: {self.lines}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[Node]]:
    started: list[Node] = []
    yield started
    for node in started:
        node.stop()


def test_a_second_start_says_so_in_both_languages_and_brings_the_first_forward(
    tmp_path: Path, nodes: list[Node]
) -> None:
    private_profile(tmp_path)
    first = Node(tmp_path)
    nodes.append(first)
    first.wait_for("Press Ctrl+C to stop.")
    started = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "app", "--headless"],
        cwd=ROOT,
        env=node_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == ALREADY_RUNNING
    assert time.monotonic() - started < 20
    assert "ORA is already running for the private profile" in second.stderr
    assert f"process {first.proc.pid}" in second.stderr
    assert "it was brought forward" in second.stderr
    first.wait_for("another start of ORA asked for this one")
    # In Japanese, following the OS language.
    second_ja = subprocess.run(
        [sys.executable, "-m", "app", "pair"],
        cwd=ROOT,
        env=node_env(tmp_path, LANG="ja_JP.UTF-8"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second_ja.returncode == ALREADY_RUNNING
    assert "ORA はすでに起動しています" in second_ja.stderr
    # `ora show` (what a second `make run` does first) finds it too.
    shown = subprocess.run(
        [sys.executable, "-m", "app", "show"],
        cwd=ROOT,
        env=node_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0 and "already running" in shown.stderr
    assert first.proc.poll() is None, "the first Node keeps running"


def test_a_crashed_node_leaves_no_lock_that_blocks(tmp_path: Path, nodes: list[Node]) -> None:
    state = private_profile(tmp_path)
    crashed = Node(tmp_path)
    nodes.append(crashed)
    crashed.wait_for("Press Ctrl+C to stop.")
    crashed.proc.send_signal(signal.SIGKILL)
    crashed.proc.wait(10)
    # The file still names the dead process; it does not matter.
    assert json.loads((state / "node.lock").read_text())["pid"] == crashed.proc.pid
    again = Node(tmp_path)
    nodes.append(again)
    again.wait_for("Press Ctrl+C to stop.")
    assert json.loads((state / "node.lock").read_text())["pid"] == again.proc.pid


def test_ctrl_c_stops_the_headless_node_cleanly(tmp_path: Path, nodes: list[Node]) -> None:
    private_profile(tmp_path)
    node = Node(tmp_path)
    nodes.append(node)
    node.wait_for("Press Ctrl+C to stop.")
    started = time.monotonic()
    node.proc.send_signal(signal.SIGINT)
    out, err = node.proc.communicate(timeout=15)
    assert node.proc.returncode == 0
    assert time.monotonic() - started < 5
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "ORA stopped." in out
    # ...and the profile is free again at once.
    ProfileLock.acquire(tmp_path / "profiles" / "private", "private").release()


def test_the_lock_is_per_profile_and_released_on_switch(tmp_path: Path) -> None:
    private = ProfileLock.acquire(tmp_path / "private", "private")
    shared = ProfileLock.acquire(tmp_path / "shared", "shared")
    with pytest.raises(AlreadyRunning):
        # Another process's attempt (flock is per open file, so this models it in-process).
        ProfileLock.acquire(tmp_path / "private", "private")
    private.release()
    ProfileLock.acquire(tmp_path / "private", "private").release()
    shared.release()
