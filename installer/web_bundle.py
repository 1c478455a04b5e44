"""The signed web bundle: the web client's files, their hashes and version, signed by the
release key, so the installed client's service worker (`assets/web/sw.js`) runs no other code.

    bundle.json = {"payload": "<JSON text>", "signature": "<base64, 64 bytes>"}
    payload     = {"format": "ora-web-bundle/1", "version": "1.2.0",
                   "files": {"client.js": "<SHA-256 hex>", ... every file but bundle.json}}
    signature   = Ed25519 over b"ora-web-bundle/1\\n" + payload (installer.release_key)

The payload is signed as the exact bytes the worker reads (no re-serialisation on either side).
The worker pins the release key from the bundle it first installs and then takes a new bundle
only when it is signed by the pinned key, names a higher version, and every file it lists
matches its hash; `release-key.json` is one of those files, so a key is rotated by a bundle
signed with the old one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path

from installer import release_key

CONTEXT = "ora-web-bundle/1"
MANIFEST = "bundle.json"
_VERSION = re.compile(r"^\d{1,6}(\.\d{1,6}){0,3}$")


class WebBundleError(Exception):
    """A web bundle cannot be built or is not signed as it must be."""


def _files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.name != MANIFEST
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def payload_of(root: Path, version: str) -> bytes:
    """The payload listing every file under root with its hash."""
    if not _VERSION.match(version):
        raise WebBundleError(f"version {version!r} is not dotted numbers (e.g. 1.2.0)")
    files = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _files(root)
    }
    return json.dumps(
        {"format": CONTEXT, "version": version, "files": files}, sort_keys=True
    ).encode()


def build(
    src: Path,
    out: Path,
    key: release_key.SigningKey,
    version: str,
    *,
    pin_own_key: bool = False,
) -> Path:
    """Copy src to out and sign it; returns out/bundle.json.

    The bundle's `release-key.json` must be the signing key's public half (a bundle pinned to
    another key would refuse its own updates); pin_own_key writes it instead (tests, dev)."""
    if not (src / "index.html").is_file():
        raise WebBundleError(f"{src} is not the web client (no index.html)")
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=shutil.ignore_patterns(".*", MANIFEST))
    pinned = out / release_key.PUBLIC_JSON
    if pin_own_key:
        pinned.write_text(release_key.public_json(key))
    elif not pinned.is_file() or bytes(release_key.read_public(pinned.read_text())) != bytes(
        key.verify_key
    ):
        raise WebBundleError(
            f"{src / release_key.PUBLIC_JSON} does not pin this signing key: the installed "
            "client would refuse this bundle's updates (commit the release key's public half)"
        )
    payload = payload_of(out, version)
    signature = release_key.sign(key, CONTEXT, payload)
    manifest = out / MANIFEST
    manifest.write_text(
        json.dumps({"payload": payload.decode(), "signature": base64.b64encode(signature).decode()})
        + "\n"
    )
    return manifest


def verify(root: Path, key: release_key.VerifyKey) -> str:
    """The version of the signed bundle in root; raise WebBundleError if anything is off."""
    try:
        outer = json.loads((root / MANIFEST).read_text())
        payload = outer["payload"].encode()
        signature = base64.b64decode(outer["signature"], validate=True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise WebBundleError(f"no signed bundle in {root}: {err}") from None
    try:
        release_key.verify(key, CONTEXT, payload, signature)
    except release_key.ReleaseKeyError as err:
        raise WebBundleError(str(err)) from None
    body = json.loads(payload)
    if body.get("format") != CONTEXT:
        raise WebBundleError("not a web bundle payload")
    for name, digest in body["files"].items():
        path = root / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise WebBundleError(f"{name} does not match the signed bundle")
    return str(body["version"])
