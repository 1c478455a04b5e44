"""A real tufup repository served over HTTP on loopback, and small fake app versions.

The fake versions are Python scripts named `ora` that run the real launcher step and the real
update client, then behave as the test needs (start well, crash, migrate the data and fail).
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.update.layout import InstallRoot
from installer.release import ReleaseRepo

REPO = Path(__file__).resolve().parents[2]

# What a fake app does after the launcher step: "good" opens (and migrates) the data and
# reports healthy; "crash" dies at start; "migrate-then-fail" migrates the data, then dies;
# "quit-quietly" exits 0 without the health signal; "already-running" exits as a second start
# of ORA on a profile another process holds.
FAKE_APP = r"""#!{python}
import json, os, sqlite3, sys
sys.path.insert(0, {repo!r})
VERSION = {version!r}
BEHAVIOUR = {behaviour!r}
SCHEMA = {schema!r}

from app.update.launcher import launch_or_continue
code = launch_or_continue(sys.argv[1:], VERSION, os.environ)
if code is not None:
    sys.exit(code)
from app.settings import load_settings
from app.update.health import mark_healthy
from app.update.layout import InstallRoot

args = sys.argv[1:]
settings = load_settings(env=os.environ)
if args[:1] == ["update"]:
    from app.update.cli import update_command
    code = update_command(settings, args[1], VERSION, "--restart" in args)
    if code == 0:  # as app/cli.py does: a command that ran to its end is a healthy start
        mark_healthy(settings.updates.health_file, VERSION)
    sys.exit(code)
if args == ["--version"]:
    print(f"ora {{VERSION}}")
    sys.exit(0)
if BEHAVIOUR == "crash":
    raise SystemExit("fake ORA " + VERSION + ": crashed at start")
if BEHAVIOUR == "quit-quietly":
    sys.exit(0)  # ends "successfully" without ever reporting a healthy start
if BEHAVIOUR == "already-running":
    from app.profile_lock import ALREADY_RUNNING
    sys.exit(ALREADY_RUNNING)
notice = InstallRoot(settings.updates.install_root).take_notice() if settings.updates.install_root else None
settings.db_path.parent.mkdir(parents=True, exist_ok=True)
db = sqlite3.connect(settings.db_path)
found = db.execute("PRAGMA user_version").fetchone()[0]
if found > SCHEMA:
    print(json.dumps({{"version": VERSION, "error": f"data has schema {{found}}, newer than {{SCHEMA}}"}}))
    sys.exit(4)
if found == 0:
    db.execute("CREATE TABLE notes (text TEXT)")
if found < 2 <= SCHEMA:
    db.execute("ALTER TABLE notes ADD COLUMN tag TEXT")
db.execute(f"PRAGMA user_version = {{SCHEMA}}")
if args[:1] == ["note"]:
    db.execute("INSERT INTO notes (text) VALUES (?)", (args[1],))
db.commit()
if BEHAVIOUR == "migrate-then-fail":
    db.execute("INSERT INTO notes (text) VALUES ('written by the failed version')")
    db.commit()
    raise SystemExit("fake ORA " + VERSION + ": failed after migrating the data")
mark_healthy(settings.updates.health_file, VERSION)
notes = [r[0] for r in db.execute("SELECT text FROM notes ORDER BY rowid")]
print(json.dumps({{"version": VERSION, "schema": SCHEMA, "notes": notes, "notice": notice}}))
"""


def make_fake_bundle(where: Path, version: str, behaviour: str = "good", schema: int = 1) -> Path:
    """A folder shaped like a built app: an executable `ora` plus a data file."""
    bundle = where / f"bundle-{version}-{behaviour}"
    bundle.mkdir(parents=True)
    exe = bundle / "ora"
    exe.write_text(
        FAKE_APP.format(
            python=sys.executable,
            repo=str(REPO),
            version=version,
            behaviour=behaviour,
            schema=schema,
        )
    )
    exe.chmod(0o755)
    # The same bulk in every version (as most of a real app is), so a binary patch is small
    # and progress has more than one chunk.
    (bundle / "payload.bin").write_bytes(random.Random(13).randbytes(256 * 1024))
    return bundle


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Override = Callable[[SimpleHTTPRequestHandler], None]


@dataclass
class StaticServer:
    """http.server on loopback serving a folder, as a static host would; paths can be overridden."""

    root: Path
    overrides: dict[str, Override] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *a: object, **kw: object) -> None:
                super().__init__(*a, directory=str(server.root), **kw)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                server.requests.append(self.path)
                override = server.overrides.get(self.path)
                if override is not None:
                    override(self)
                    return
                super().do_GET()

            def log_message(self, *_a: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def serve_bytes(data: bytes) -> Override:
    def handle(h: SimpleHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return handle


def serve_endless(h: SimpleHTTPRequestHandler) -> None:
    """A response that never ends (no Content-Length): TUF must cut it off."""
    h.send_response(200)
    h.end_headers()
    chunk = b"\0" * 65536
    try:
        for _ in range(100_000):  # 6.5 GB: far beyond any signed length
            h.wfile.write(chunk)
    except OSError:
        pass


@dataclass
class Setup:
    """A release workspace, its repository on HTTP, and an installed v1."""

    tmp: Path
    release: ReleaseRepo
    server: StaticServer
    root: InstallRoot
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("ORA_") and k not in ("PYTHONPATH",)
        }
        env.update(
            ORA_HOME=str(self.home),
            ORA_UPDATE_URL=self.server.url,
            ORA_NO_LOCAL_DETECT="1",
            ORA_HEALTH_DEADLINE_S="30",
        )
        env.update(extra)
        return env

    def ora(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """Start ORA the way the desktop shortcut does: through the install root's stub."""
        return subprocess.run(
            [str(self.root.stub), *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=60,
        )

    def publish(self, version: str, behaviour: str = "good", schema: int = 1) -> Path:
        bundle = make_fake_bundle(self.tmp / "bundles", version, behaviour, schema)
        return self.release.add(bundle, version)

    def state(self) -> dict[str, object]:
        result: dict[str, object] = json.loads(self.root.state_file.read_text())
        return result


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    release = ReleaseRepo(tmp_path / "release")
    release.init()
    v1 = make_fake_bundle(tmp_path / "bundles", "0.1.0")
    release.add(v1, "0.1.0")
    root = InstallRoot(tmp_path / "install")
    root.install_first(v1, "0.1.0", release.trusted_root)
    server = StaticServer(release.repository)
    try:
        yield Setup(tmp_path, release, server, root, tmp_path / "home")
    finally:
        server.close()
