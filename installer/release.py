"""The release tool: TUF keys, signed releases and a repository folder any static server hosts.

    python -m installer.release init    --workspace W            # keys + root metadata
    python -m installer.release add     --workspace W --bundle dist/ora --version 0.2.0
    python -m installer.release refresh --workspace W            # re-sign timestamp/snapshot
    python -m installer.release rotate  --workspace W --role targets --offline-dir KEYS
    python -m installer.release web     --workspace W --version 0.2.0   # sign the web client
    python -m installer.release web-keygen --workspace W                # (init makes it too)
    python -m installer.release cloud-key --workspace W --public-key K  # vouch for the Cloud's key

A workspace holds `keystore/` (the online keys: targets, snapshot, timestamp, and every public
key), `repository/` (publish this folder as it is: `metadata/` and `targets/`) and tufup's
`.tufup-repo-config`. The root keys are made in `offline-root-keys/` beside it, two of them
with a threshold of two: move that folder to offline media; it is needed again only to change
root metadata (rotating any key), given with --offline-dir.

The app ships `repository/metadata/root.json` as its trusted root (installer.build copies it).

The web client is signed by ORA's release key (Ed25519, `keystore/web-release.ed25519`; see
installer.release_key): `web` copies `assets/web` to `web/` in the workspace with a signed
`bundle.json` (installer.web_bundle); publish `web/` as it is on the client's own origin. The
key's public half goes into the repo as `assets/web/release-key.json`. The same key vouches
for the Cloud's X25519 key: `cloud-key` prints the statement (protocol.cloud_key) the Relay
serves as ORA_RELAY_CLOUD_KEY_STATEMENT and devices check before sending the Cloud anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from installer import release_key, web_bundle
from protocol import cloud_key
from protocol.encoding import b64u_decode
from protocol.errors import DecodeError

APP_NAME = "ora"
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
# Days until each role's metadata expires. The timestamp is short so a frozen server is found
# out within a week; `refresh` (daily, from cron or CI) re-signs it with its online key.
EXPIRATION_DAYS = {"root": 365, "targets": 90, "snapshot": 30, "timestamp": 7}
KEYSTORE = "keystore"
REPOSITORY = "repository"
OFFLINE = "offline-root-keys"
RETIRED = "retired-keys"


class ReleaseError(Exception):
    """A release step cannot be done; the message says what to do."""


@contextlib.contextmanager
def _in(workspace: Path) -> Iterator[None]:
    # tufup keeps its configuration in the current directory; keep it in the workspace.
    if not workspace.is_dir():
        raise ReleaseError(f"{workspace} is not a release workspace: run `init` first")
    before = Path.cwd()
    os.chdir(workspace)
    try:
        yield
    finally:
        os.chdir(before)


class ReleaseRepo:
    """One signing workspace."""

    def __init__(self, workspace: Path, offline_dir: Path | None = None) -> None:
        self.workspace = workspace.resolve()
        self.offline_dir = (offline_dir or self.workspace / OFFLINE).resolve()

    @property
    def keystore(self) -> Path:
        return self.workspace / KEYSTORE

    @property
    def repository(self) -> Path:
        """The folder to publish: `metadata/` and `targets/`."""
        return self.workspace / REPOSITORY

    @property
    def trusted_root(self) -> Path:
        """The root metadata the app ships and trusts first."""
        return self.repository / "metadata" / "root.json"

    def _open(self) -> Any:
        from tufup.repo import Repository

        if not (self.workspace / Repository.config_filename).exists():
            raise ReleaseError(f"{self.workspace} is not a release workspace: run `init` first")
        return Repository.from_config()

    def init(self, root_keys: int = 2, root_threshold: int = 2) -> None:
        """Create all keys and sign the first root metadata."""
        from tufup.repo import Repository

        if not 1 <= root_threshold <= root_keys:
            raise ReleaseError("the root threshold must be between 1 and the number of root keys")
        if (self.workspace / Repository.config_filename).exists():
            raise ReleaseError(f"{self.workspace} already holds a release repository")
        self.workspace.mkdir(parents=True, exist_ok=True)
        root_names = [f"root{i + 1}" for i in range(root_keys)]
        with _in(self.workspace):
            repo = Repository(
                app_name=APP_NAME,
                repo_dir=self.repository,
                keys_dir=self.keystore,
                key_map={"root": root_names, **{r: [r] for r in ONLINE_ROLES}},
                thresholds={"root": root_threshold, "targets": 1, "snapshot": 1, "timestamp": 1},
                expiration_days=dict(EXPIRATION_DAYS),
            )
            repo.initialize()
        # Root's private keys leave the online keystore at once.
        self.offline_dir.mkdir(parents=True, exist_ok=True)
        for name in root_names:
            shutil.move(str(self.keystore / name), str(self.offline_dir / name))
        self.web_keygen()

    @property
    def web_key_path(self) -> Path:
        """The release key that signs the web bundle (never in git)."""
        return self.keystore / release_key.KEY_FILE

    def web_keygen(self) -> str:
        """Make the web release key if there is none; returns release-key.json's text."""
        if not self.web_key_path.exists():
            release_key.save(release_key.generate(), self.web_key_path)
        text = release_key.public_json(release_key.load(self.web_key_path))
        (self.workspace / release_key.PUBLIC_JSON).write_text(text)
        return text

    def cloud_key(self, public_key: str, days: float) -> str:
        """The release key's statement vouching for the Cloud's public key, as JSON text."""
        try:
            raw = b64u_decode(public_key.strip(), length=32)
        except DecodeError:
            raise ReleaseError(
                "--public-key must be the Cloud's key as ora-cloud keygen prints it"
            ) from None
        if not 1 <= days <= 3650:
            raise ReleaseError("--days must be 1..3650")
        key = release_key.load(self.web_key_path)
        return json.dumps(cloud_key.sign(bytes(key), raw, time.time() + days * 86400))

    def web(
        self, version: str, src: Path, out: Path | None = None, *, pin_own_key: bool = False
    ) -> Path:
        """Sign the web client at src as version into out (default WORKSPACE/web)."""
        key = release_key.load(self.web_key_path)
        try:
            return web_bundle.build(
                src, out or self.workspace / "web", key, version, pin_own_key=pin_own_key
            )
        except web_bundle.WebBundleError as err:
            raise ReleaseError(str(err)) from None

    def add(
        self, bundle_dir: Path, version: str, *, skip_patch: bool = False, required: bool = False
    ) -> Path:
        """Archive a built app folder as a release (plus a patch from the last one) and publish."""
        if not bundle_dir.is_dir():
            raise ReleaseError(f"{bundle_dir} is not a folder (give the built app folder)")
        with _in(self.workspace):
            repo = self._open()
            latest = repo.roles.get_latest_archive()
            if latest is not None and not latest.version < _parse_version(version):
                raise ReleaseError(
                    f"version {version} is not newer than the published {latest.version}"
                )
            repo.add_bundle(
                new_bundle_dir=bundle_dir.resolve(),
                new_version=version,
                skip_patch=skip_patch,
                required=required,
            )
            repo.publish_changes(private_key_dirs=[self.keystore])
        return self.repository / "targets" / f"{APP_NAME}-{version}.tar.gz"

    def refresh(self) -> None:
        """Re-sign snapshot and timestamp with fresh expiry dates (run daily)."""
        with _in(self.workspace):
            repo = self._open()
            for role in ("snapshot", "timestamp"):
                repo.refresh_expiration_date(role)
            repo.publish_changes(private_key_dirs=[self.keystore])

    def rotate(self, role: str, old_key: str | None = None) -> str:
        """Replace a role's key (e.g. after a leak); root metadata is re-signed offline."""
        from tufup.repo import Keys

        if role not in ("root", *ONLINE_ROLES):
            raise ReleaseError(f"unknown role {role!r}")
        with _in(self.workspace):
            repo = self._open()
            names: list[str] = list(repo.key_map[role])
            old = old_key or names[0]
            if old not in names:
                raise ReleaseError(f"{role} has no key named {old!r} (it has {names})")
            if not self.offline_dir.is_dir():
                raise ReleaseError(
                    f"rotating a key changes root metadata: give the offline root keys with "
                    f"--offline-dir (not found: {self.offline_dir})"
                )
            n = 2
            while (self.keystore / f"{role}-{n}.pub").exists() or (
                self.keystore / f"{role}{n}.pub"
            ).exists():
                n += 1
            new_name = f"{role}{n}" if role == "root" else f"{role}-{n}"
            private_dir = self.offline_dir if role == "root" else self.keystore
            public = Keys.create_key_pair(private_key_path=private_dir / new_name, encrypted=False)
            if role == "root":
                shutil.move(str(public), str(self.keystore / public.name))
                public = self.keystore / public.name
            repo.replace_key(
                old_key_name=old, new_public_key_path=public, new_private_key_encrypted=False
            )
            repo.publish_changes(private_key_dirs=[self.keystore, self.offline_dir])
        retired = self.workspace / RETIRED
        retired.mkdir(exist_ok=True)
        for folder in (self.keystore, self.offline_dir):
            if (folder / old).exists():
                shutil.move(str(folder / old), str(retired / old))
        return new_name


def _parse_version(version: str) -> Any:
    from packaging.version import Version

    return Version(version)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m installer.release ...`"""
    p = argparse.ArgumentParser(
        prog="python -m installer.release", description=__doc__.split("\n")[0]
    )
    p.add_argument("--workspace", type=Path, default=Path("release"), help="the signing workspace")
    p.add_argument(
        "--offline-dir",
        type=Path,
        help="the offline root keys (default: WORKSPACE/offline-root-keys)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create keys and the first root metadata")
    init.add_argument("--root-keys", type=int, default=2)
    init.add_argument("--root-threshold", type=int, default=2)
    add = sub.add_parser("add", help="add a built app folder as a release and publish")
    add.add_argument("--bundle", type=Path, required=True)
    add.add_argument("--version", required=True)
    add.add_argument("--skip-patch", action="store_true")
    add.add_argument("--required", action="store_true")
    sub.add_parser("refresh", help="re-sign snapshot and timestamp with new expiry dates")
    rotate = sub.add_parser("rotate", help="replace a role's key")
    rotate.add_argument("--role", required=True, choices=["root", *ONLINE_ROLES])
    rotate.add_argument("--old-key")
    sub.add_parser("web-keygen", help="make the web release key (init does) and print its pin")
    web = sub.add_parser("web", help="sign the web client as a bundle its service worker takes")
    web.add_argument("--version", required=True)
    web.add_argument("--src", type=Path, default=Path("assets/web"))
    web.add_argument("--out", type=Path, help="default: WORKSPACE/web")
    web.add_argument(
        "--pin-own-key",
        action="store_true",
        help="write the signing key's public half as release-key.json (tests, development)",
    )
    vouch = sub.add_parser("cloud-key", help="sign the Cloud's public key for devices to trust")
    vouch.add_argument("--public-key", required=True, help="ORA_RELAY_CLOUD_PUBLIC_KEY")
    vouch.add_argument("--days", type=float, default=365.0, help="how long it stays valid")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="release: %(message)s")
    release = ReleaseRepo(args.workspace, args.offline_dir)
    try:
        if args.command == "init":
            release.init(args.root_keys, args.root_threshold)
            print(f"keys in {release.keystore}; root keys in {release.offline_dir}:")
            print("  move the root keys to offline media now; they are needed only to rotate keys.")
            print(f"ship {release.trusted_root} with the app (installer.build does).")
        elif args.command == "add":
            archive = release.add(
                args.bundle, args.version, skip_patch=args.skip_patch, required=args.required
            )
            print(f"published {archive.name}; upload {release.repository} as it is")
        elif args.command == "web-keygen":
            print(release.web_keygen(), end="")
            print(f"commit this as assets/web/{release_key.PUBLIC_JSON}", file=sys.stderr)
        elif args.command == "web":
            manifest = release.web(args.version, args.src, args.out, pin_own_key=args.pin_own_key)
            print(f"signed web client {args.version}; publish {manifest.parent} as it is")
        elif args.command == "cloud-key":
            print(release.cloud_key(args.public_key, args.days))
            print("set it as ORA_RELAY_CLOUD_KEY_STATEMENT on every Relay", file=sys.stderr)
        elif args.command == "refresh":
            release.refresh()
            print("snapshot and timestamp re-signed")
        else:
            name = release.rotate(args.role, args.old_key)
            print(f"{args.role} now signs with {name}; the old key is in {RETIRED}/")
    except (ReleaseError, release_key.ReleaseKeyError) as err:
        print(f"release: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
