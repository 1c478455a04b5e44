"""The signed web bundle from the release tool: what it signs, and what verification refuses."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from installer import release_key, web_bundle

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "assets" / "web"


def _release(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "installer.release", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_repo_pins_a_release_key_and_no_private_key_is_in_the_tree() -> None:
    key = release_key.read_public((WEB / "release-key.json").read_text())
    assert len(bytes(key)) == 32
    assert not list(REPO.glob("**/*.ed25519"))


def test_signed_bundle_verifies_and_lists_every_file(tmp_path: Path) -> None:
    key = release_key.generate()
    manifest = web_bundle.build(WEB, tmp_path / "out", key, "1.2.3", pin_own_key=True)
    assert web_bundle.verify(tmp_path / "out", key.verify_key) == "1.2.3"
    payload = json.loads(json.loads(manifest.read_text())["payload"])
    assert {"index.html", "client.js", "sw.js", "release-key.json", "manifest.json"} <= set(
        payload["files"]
    )
    assert "bundle.json" not in payload["files"]


@pytest.mark.parametrize("attack", ["file", "added_key", "wrong_key", "other_context"])
def test_tampered_bundles_are_refused(tmp_path: Path, attack: str) -> None:
    key = release_key.generate()
    out = tmp_path / "out"
    manifest = web_bundle.build(WEB, out, key, "1.0.0", pin_own_key=True)
    verify_with = key.verify_key
    if attack == "file":
        with (out / "client.js").open("a") as f:
            f.write("\nleak();\n")
    elif attack == "added_key":
        (out / "release-key.json").write_text(release_key.public_json(release_key.generate()))
    elif attack == "wrong_key":
        verify_with = release_key.generate().verify_key
    else:
        # A signature the release key made for another purpose does not pass as a bundle's.
        outer = json.loads(manifest.read_text())
        sig = release_key.sign(key, "ora-cloud-key/1", outer["payload"].encode())
        outer["signature"] = base64.b64encode(sig).decode()
        manifest.write_text(json.dumps(outer))
    with pytest.raises(web_bundle.WebBundleError):
        web_bundle.verify(out, verify_with)


def test_release_tool_signs_only_with_the_pinned_key(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    made = _release(ws, "web-keygen")
    assert made.returncode == 0, made.stderr
    key_file = ws / "keystore" / release_key.KEY_FILE
    assert os.stat(key_file).st_mode & 0o077 == 0
    # The repo's assets/web pins ORA's key, not this workspace's: refused, nothing signed.
    refused = _release(ws, "web", "--version", "1.0.0", "--src", str(WEB))
    assert refused.returncode == 2 and "does not pin this signing key" in refused.stderr
    assert not (ws / "web" / "bundle.json").exists()
    # A tree pinned to this key signs.
    src = tmp_path / "src"
    web_bundle.build(WEB, src, release_key.load(key_file), "0.0.1", pin_own_key=True)
    assert (src / "release-key.json").read_text() == made.stdout
    signed = _release(ws, "web", "--version", "1.0.0", "--src", str(src))
    assert signed.returncode == 0, signed.stderr
    pinned = release_key.read_public(made.stdout)
    assert web_bundle.verify(ws / "web", pinned) == "1.0.0"
    bad = _release(ws, "web", "--version", "1.0.0-rc1", "--src", str(src))
    assert bad.returncode == 2 and "dotted numbers" in bad.stderr
