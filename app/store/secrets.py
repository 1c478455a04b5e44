"""Secrets (API keys, the Node's identity key) per profile: the OS keyring, or an announced file.

Headless Linux usually has no keyring backend. Then, and only then, secrets go to a 0600 JSON
file in the profile's state directory, and ORA says so (log warning + `backend_description`,
shown by `ora` at start). Plaintext keyrings (keyrings.alt) are never used: they would be
picked silently and store secrets as base64.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

import keyring
import keyring.backend
import keyring.errors

from app.errors import SecretStoreError
from app.policy.gate import Profile

_LOGGER = logging.getLogger(__name__)
_INDEX = "__index__"
INTERNAL_PREFIX = "ora."  # ORA's own secrets (audit key, identity key), hidden from `ora key list`  # keyring has no listing; we keep the names (not values) under this entry


class _Backend(Protocol):
    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


class _KeyringBackend:
    def __init__(self, ring: keyring.backend.KeyringBackend, service: str) -> None:
        self._ring = ring
        self._service = service

    def get(self, name: str) -> str | None:
        try:
            return self._ring.get_password(self._service, name)
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring refused to read a secret: {err}") from None

    def set(self, name: str, value: str) -> None:
        try:
            self._ring.set_password(self._service, name, value)
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring refused to store a secret: {err}") from None

    def delete(self, name: str) -> None:
        try:
            self._ring.delete_password(self._service, name)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as err:
            raise SecretStoreError(f"the OS keyring refused to delete a secret: {err}") from None


class _FileBackend:
    """A JSON file only its owner can read (0600), rewritten atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        mode = self.path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SecretStoreError(
                f"{self.path} is readable by other users (mode {mode:o}); run: chmod 600 {self.path}"
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise SecretStoreError(f"cannot read {self.path}: {err}") from None
        if not isinstance(data, dict):
            raise SecretStoreError(f"{self.path} is damaged")
        return {str(k): str(v) for k, v in data.items()}

    def _save(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(tmp, self.path)

    def get(self, name: str) -> str | None:
        return self._load().get(name)

    def set(self, name: str, value: str) -> None:
        data = self._load()
        data[name] = value
        self._save(data)

    def delete(self, name: str) -> None:
        data = self._load()
        if data.pop(name, None) is not None:
            self._save(data)


def usable_keyring() -> keyring.backend.KeyringBackend | None:
    """The OS keyring if a real one exists; None for the fail backend or any plaintext one."""
    ring = keyring.get_keyring()
    module = type(ring).__module__
    if module.startswith(("keyring.backends.fail", "keyrings.alt")) or ring.priority <= 0:
        return None
    if module.startswith("keyring.backends.chainer"):
        backends = getattr(ring, "backends", [])
        if not backends or any(type(b).__module__.startswith("keyrings.alt") for b in backends):
            return None
    return ring


class SecretStore:
    """Named secrets of one profile; `private` and `shared` never see each other's."""

    def __init__(self, backend: _Backend, description: str) -> None:
        self._backend = backend
        self.backend_description = description

    @classmethod
    def open(cls, profile: Profile, state_dir: Path, *, use_keyring: bool = True) -> SecretStore:
        """The keyring when there is one, else the announced 0600 file."""
        ring = usable_keyring() if use_keyring else None
        if ring is not None:
            service = f"ora.{profile.value}.{_path_tag(state_dir)}"
            return cls(_KeyringBackend(ring, service), f"OS keyring ({type(ring).__name__})")
        path = state_dir / "secrets.json"
        if not use_keyring:  # the caller chose the file (tests, the self-test's scratch profile)
            return cls(_FileBackend(path), f"file readable only by you: {path}")
        # Said where it matters (the Providers dialog, `ora providers`, the headless summary),
        # not on every command: so only the log file gets it here.
        _LOGGER.info(
            "no OS keyring found: secrets are kept in %s, readable only by you (mode 0600)", path
        )
        return cls(_FileBackend(path), f"file readable only by you (no OS keyring found): {path}")

    def get(self, name: str) -> str | None:
        """A secret's value, or None."""
        return self._backend.get(name)

    def set(self, name: str, value: str) -> None:
        """Store a secret."""
        if not name or name == _INDEX:
            raise SecretStoreError(f"invalid secret name {name!r}")
        self._backend.set(name, value)
        names = set(self.names(internal=True))
        if name not in names:
            self._backend.set(_INDEX, json.dumps(sorted(names | {name})))

    def delete(self, name: str) -> None:
        """Forget a secret."""
        self._backend.delete(name)
        names = set(self.names(internal=True)) - {name}
        self._backend.set(_INDEX, json.dumps(sorted(names)))

    def names(self, *, internal: bool = False) -> list[str]:
        """Names of the stored secrets (never their values); ORA's own (`ora.*`) on request."""
        raw = self._backend.get(_INDEX)
        names = list(json.loads(raw)) if raw else []
        return names if internal else [n for n in names if not n.startswith(INTERNAL_PREFIX)]


def _path_tag(state_dir: Path) -> str:
    """Distinguishes two ORA homes on one machine (tests, portable installs) in the keyring."""
    import hashlib

    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
