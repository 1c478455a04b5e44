"""The release tool from its command line: keys where they belong, refusals with reasons."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.installer.conftest import make_fake_bundle

pytestmark = pytest.mark.slow


def _release(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "installer.release", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_init_keeps_root_keys_offline_with_a_threshold(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    result = _release(ws, "init")
    assert result.returncode == 0, result.stderr
    assert "move the root keys to offline media" in result.stdout
    assert not (ws / "keystore" / "root1").exists() and not (ws / "keystore" / "root2").exists()
    assert (ws / "offline-root-keys" / "root1").is_file()
    root = json.loads((ws / "repository" / "metadata" / "root.json").read_text())["signed"]
    assert root["roles"]["root"]["threshold"] == 2 and len(root["roles"]["root"]["keyids"]) == 2
    assert len(root["keys"]) == 5
    assert _release(ws, "init").returncode == 2  # never over an existing repository


def test_add_publishes_and_refuses_a_version_that_is_not_newer(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _release(ws, "init").returncode == 0
    bundle = make_fake_bundle(tmp_path, "1.0.0")
    added = _release(ws, "add", "--bundle", str(bundle), "--version", "1.0.0")
    assert added.returncode == 0, added.stderr
    assert (ws / "repository" / "targets" / "ora-1.0.0.tar.gz").is_file()
    again = _release(ws, "add", "--bundle", str(bundle), "--version", "0.9.0")
    assert again.returncode == 2 and "not newer than the published 1.0.0" in again.stderr
    timestamp = ws / "repository" / "metadata" / "timestamp.json"
    before = json.loads(timestamp.read_text())["signed"]["version"]
    assert _release(ws, "refresh").returncode == 0
    assert json.loads(timestamp.read_text())["signed"]["version"] == before + 1


def test_rotation_needs_the_offline_root_keys(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _release(ws, "init").returncode == 0
    refused = _release(
        ws, "--offline-dir", str(tmp_path / "nowhere"), "rotate", "--role", "timestamp"
    )
    assert refused.returncode == 2 and "--offline-dir" in refused.stderr
    done = _release(ws, "rotate", "--role", "timestamp")
    assert done.returncode == 0 and "timestamp now signs with timestamp-2" in done.stdout
    assert (ws / "retired-keys" / "timestamp").is_file()
    assert (ws / "repository" / "metadata" / "2.root.json").is_file()
    root_rotation = _release(ws, "rotate", "--role", "root", "--old-key", "root1")
    assert root_rotation.returncode == 0, root_rotation.stderr
    assert (ws / "offline-root-keys" / "root3").is_file() and not (
        ws / "keystore" / "root3"
    ).exists()


def test_not_a_workspace(tmp_path: Path) -> None:
    result = _release(tmp_path / "empty", "refresh")
    assert result.returncode == 2 and "run `init` first" in result.stderr
