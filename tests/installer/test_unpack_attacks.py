"""Signed but malicious releases, a cut connection, a full disk: refused by name, nothing
written outside staging, nothing installed, and the next try works.

The archives are signed with the test repository's real release keys (a bad build or a stolen
key), so TUF accepts them: only the unpacking stands in the way.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import subprocess
import tarfile
from collections.abc import Callable
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
import tufup.repo

from app.settings import UpdateSettings
from app.update.errors import UnsafeArchive, UpdateServerUnreachable
from app.update.service import UpdateService
from tests.installer.conftest import Setup, make_fake_bundle

pytestmark = pytest.mark.slow


def _service(setup: Setup) -> UpdateService:
    settings = UpdateSettings(enabled=True, url=setup.server.url, install_root=setup.root.path)
    return UpdateService(settings, "0.1.0")


def _evil_archive(members: Callable[[tarfile.TarFile], None]) -> Callable[..., object]:
    """A stand-in for tufup's archive maker that writes the attacker's tar instead."""

    def make(src_dir: Path, dst_dir: Path, app_name: str, version: str, **_kw: object) -> object:
        path = Path(dst_dir) / f"{app_name}-{version}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            tar.add(src_dir / "ora", arcname="./ora")  # looks like a release
            members(tar)
        return tufup.repo.TargetMeta(target_path=path)

    return make


def _file(tar: tarfile.TarFile, name: str, data: bytes = b"pwned\n") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    tar.addfile(info)


def _publish_evil(
    setup: Setup,
    monkeypatch: pytest.MonkeyPatch,
    members: Callable[[tarfile.TarFile], None],
    patch: bool,
) -> None:
    bundle = make_fake_bundle(setup.tmp / "bundles", "0.2.0")
    with monkeypatch.context() as m:
        m.setattr(tufup.repo, "make_gztar_archive", _evil_archive(members))
        setup.release.add(bundle, "0.2.0", skip_patch=not patch)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "staging" not in p.parts and "targets" not in p.parts
    }


def _link_then_write(tar: tarfile.TarFile) -> None:
    _link(tar, "./lib", "../../../versions/0.1.0")
    _file(tar, "./lib/ora")


ESCAPES: dict[str, Callable[[Path], Callable[[tarfile.TarFile], None]]] = {
    "dot-dot": lambda victim: lambda tar: _file(tar, "./../../../versions/0.1.0/ora"),
    "absolute": lambda victim: lambda tar: _file(tar, str(victim)),
    "symlink-out-then-write": lambda victim: _link_then_write,
    "absolute-symlink": lambda victim: lambda tar: _link(tar, "./lib", str(victim.parent)),
    "hardlink-out": lambda victim: (
        lambda tar: _link(tar, "./copy", "../../../install.json", tarfile.LNKTYPE)
    ),
    "device": lambda victim: lambda tar: _link(tar, "./null", "", tarfile.CHRTYPE),
}


@pytest.mark.parametrize("patch", [False, True], ids=["full", "patch"])
@pytest.mark.parametrize("attack", sorted(ESCAPES))
def test_a_signed_archive_that_escapes_its_folder_is_refused_by_name(
    setup: Setup, monkeypatch: pytest.MonkeyPatch, attack: str, patch: bool
) -> None:
    victim = setup.tmp / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("mine\n")
    _publish_evil(setup, monkeypatch, ESCAPES[attack](victim), patch)
    service = _service(setup)
    available = service.check()  # (refreshes the trusted metadata: taken before the snapshot)
    assert available is not None and available.version == "0.2.0"
    before = _snapshot(setup.root.path)
    with pytest.raises(UnsafeArchive, match="refused") as err:
        service.download()
    assert "release archive" in str(err.value) and "keeps running as before" in str(err.value)
    # Nothing outside staging changed: the stable version, install.json, the stub, the victim.
    assert _snapshot(setup.root.path) == before
    assert victim.read_text() == "mine\n"
    assert not list((setup.root.staging_dir).glob("0.2.0*")), "no half-unpacked folder left"
    assert setup.ora("--version").stdout.strip() == "ora 0.1.0"


def test_a_cut_connection_mid_download_is_a_named_message_and_the_retry_works(
    setup: Setup,
) -> None:
    archive = setup.publish("0.2.0")
    data = archive.read_bytes()

    def cut(h: SimpleHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[: len(data) // 2])
        h.wfile.flush()
        h.connection.shutdown(2)  # the network goes away half-way

    for path in ("/targets/ora-0.2.0.tar.gz", "/targets/ora-0.2.0.patch"):
        setup.server.overrides[path] = cut
    before = setup.root.state_file.read_text()
    service = _service(setup)
    assert service.check() is not None
    with pytest.raises(UpdateServerUnreachable, match="try again later") as err:
        service.download()
    assert "keeps running as before" in str(err.value)
    assert setup.root.state_file.read_text() == before
    # The connection is back: the same service (the tray keeps it) succeeds.
    setup.server.overrides.clear()
    service.download()
    assert service.apply() == "0.2.0"


def test_a_disk_error_while_unpacking_is_a_named_message_and_the_retry_works(
    setup: Setup,
) -> None:
    """A real write error in a real process: the file size limit stands for a full disk."""
    bundle = make_fake_bundle(setup.tmp / "bundles", "0.2.0")
    # Compressible bulk: a small download that unpacks to 8 MB.
    (bundle / "payload.bin").write_bytes(b"\0" * (8 << 20))
    setup.release.add(bundle, "0.2.0", skip_patch=True)
    before = setup.root.state_file.read_text()

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 << 20, 2 << 20))

    env = setup.env()
    full = subprocess.run(
        [str(setup.root.stub), "update", "apply"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_disk,
    )
    assert full.returncode == 1, full.stderr
    assert "could not unpack the update" in full.stderr and "disk full" in full.stderr
    assert "Traceback" not in full.stderr
    assert setup.root.state_file.read_text() == before
    assert sorted(p.name for p in (setup.root.path / "versions").iterdir()) == ["0.1.0"]
    assert not list(setup.root.staging_dir.glob("0.2.0*"))
    # Space freed: the retry installs it.
    again = setup.ora("update", "apply")
    assert again.returncode == 0 and "installed 0.2.0" in again.stdout, again.stderr
    assert os.path.getsize(setup.root.version_dir("0.2.0") / "payload.bin") == 8 << 20
