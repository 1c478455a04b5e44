"""ORA's release signing key: Ed25519 (PyNaCl), for what a Relay must not be able to forge.

Convention (shared by every user of the key):

- The public half is pinned in the web bundle as `assets/web/release-key.json`:
  `{"ed25519_public": "<standard base64 of 32 bytes>"}`. The private half is never in git: it
  lives in the release workspace as `keystore/web-release.ed25519` (the 32-byte seed in
  standard base64, mode 0600), made by `python -m installer.release init` (or `web-keygen`).
- A signature is always over a context string, a newline, then the payload bytes:

      signed = context (ASCII, e.g. b"ora-web-bundle/1") || b"\\n" || payload

  so a signature made for one purpose (the web bundle, the Cloud's key) can never be replayed
  as another. Contexts in use: `ora-web-bundle/1` (installer.web_bundle).
- Tests make their own key with `generate()` and a bundle pinned to it
  (`installer.web_bundle.build(..., pin_own_key=True)`).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

KEY_FILE = "web-release.ed25519"  # inside a release workspace's keystore/
PUBLIC_JSON = "release-key.json"  # inside the web bundle


class ReleaseKeyError(Exception):
    """A release key or signature cannot be used; the message says why."""


def generate() -> SigningKey:
    """A fresh release key."""
    return SigningKey.generate()


def save(key: SigningKey, path: Path) -> None:
    """Write the private half, readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(bytes(key)).decode() + "\n")


def load(path: Path) -> SigningKey:
    """Read a private half written by save()."""
    try:
        seed = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as err:
        raise ReleaseKeyError(f"cannot read the release key {path}: {err}") from None
    if len(seed) != 32:
        raise ReleaseKeyError(f"{path} does not hold a 32-byte Ed25519 seed")
    return SigningKey(seed)


def public_json(key: SigningKey | VerifyKey) -> str:
    """The pinned public half, as `release-key.json` holds it."""
    verify = key.verify_key if isinstance(key, SigningKey) else key
    return json.dumps({"ed25519_public": base64.b64encode(bytes(verify)).decode()}) + "\n"


def read_public(text: str) -> VerifyKey:
    """The public half from `release-key.json` text."""
    try:
        raw = base64.b64decode(json.loads(text)["ed25519_public"], validate=True)
        return VerifyKey(raw)
    except (ValueError, KeyError, TypeError) as err:
        raise ReleaseKeyError(f"not a release-key.json: {err}") from None


def _message(context: str, payload: bytes) -> bytes:
    if not context.isascii() or "\n" in context or not context:
        raise ReleaseKeyError("a signing context is one line of ASCII")
    return context.encode() + b"\n" + payload


def sign(key: SigningKey, context: str, payload: bytes) -> bytes:
    """The 64-byte detached signature of payload under context."""
    return bytes(key.sign(_message(context, payload)).signature)


def verify(key: VerifyKey, context: str, payload: bytes, signature: bytes) -> None:
    """Raise ReleaseKeyError unless signature is key's over (context, payload)."""
    try:
        key.verify(_message(context, payload), signature)
    except (BadSignatureError, ValueError):
        raise ReleaseKeyError("the signature is not ORA's release key's") from None
