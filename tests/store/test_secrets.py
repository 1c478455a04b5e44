"""Secrets: the real OS keyring when there is one, otherwise an announced 0600 file."""

import logging
import os
import stat
from pathlib import Path

import pytest

from app.errors import SecretStoreError
from app.policy.gate import Profile
from app.store import secrets as secrets_mod
from app.store.secrets import SecretStore


def test_no_keyring_falls_back_to_an_announced_0600_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(secrets_mod, "usable_keyring", lambda: None)
    # Announced in the log (not as a warning: a quiet start says it where it matters, in the
    # store's description that the tray shows).
    with caplog.at_level(logging.INFO):
        store = SecretStore.open(Profile.PRIVATE, tmp_path)
    assert "no OS keyring" in caplog.text and "no OS keyring" in store.backend_description
    store.set("openai", "sk-very-secret")
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "sk-very-secret" not in caplog.text
    assert SecretStore.open(Profile.PRIVATE, tmp_path).get("openai") == "sk-very-secret"


def test_a_file_others_can_read_is_refused(tmp_path: Path) -> None:
    store = SecretStore.open(Profile.PRIVATE, tmp_path, use_keyring=False)
    store.set("k", "v")
    os.chmod(tmp_path / "secrets.json", 0o644)
    with pytest.raises(SecretStoreError, match="chmod 600"):
        store.get("k")


def test_plaintext_and_fail_backends_are_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    monkeypatch.setattr("keyring.get_keyring", lambda: fail.Keyring())
    assert secrets_mod.usable_keyring() is None


def test_real_os_keyring_round_trip_and_profiles_are_separate(tmp_path: Path) -> None:
    ring = secrets_mod.usable_keyring()
    if ring is None:
        if os.environ.get("ORA_REQUIRE_KEYRING"):
            pytest.fail("make test provides a Secret Service, but no usable keyring was found")
        pytest.skip("no OS keyring on this machine (make test runs one)")
    private = SecretStore.open(Profile.PRIVATE, tmp_path)
    shared = SecretStore.open(Profile.SHARED, tmp_path)
    assert "OS keyring" in private.backend_description
    private.set("openai", "sk-private-only")
    assert private.get("openai") == "sk-private-only"
    assert shared.get("openai") is None
    assert not (tmp_path / "secrets.json").exists()
    assert private.names() == ["openai"]
    private.delete("openai")
    assert private.get("openai") is None
