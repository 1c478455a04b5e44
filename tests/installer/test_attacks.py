"""Each refusal of the update client: a clear message, and the running version untouched.

The repository is real (tufup, served over loopback HTTP); the attacker controls the server
(or the network) and answers some paths with what the attack needs.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from securesystemslib.interface import import_ed25519_privatekey_from_file
from securesystemslib.signer import SSlibSigner
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from app.settings import UpdateSettings
from app.update.errors import (
    BadSignature,
    EndlessData,
    FreezeAttack,
    RollbackAttack,
    TamperedTarget,
)
from app.update.service import UpdateService
from installer.release import ReleaseRepo
from tests.installer.conftest import (
    Setup,
    StaticServer,
    make_fake_bundle,
    serve_bytes,
    serve_endless,
)

pytestmark = pytest.mark.slow


def _service(setup: Setup, url: str | None = None) -> UpdateService:
    settings = UpdateSettings(
        enabled=True, url=url or setup.server.url, install_root=setup.root.path
    )
    return UpdateService(settings, "0.1.0")


def _attempt(service: UpdateService) -> None:
    if service.check() is not None:
        service.download()
        service.apply()


def _assert_untouched(setup: Setup, state_before: str) -> None:
    assert setup.root.state_file.read_text() == state_before
    assert sorted(p.name for p in (setup.root.path / "versions").iterdir()) == ["0.1.0"]
    assert setup.ora("--version").stdout.strip() == "ora 0.1.0"


def _resign(path: Path, key: Path, **changes: object) -> bytes:
    """Metadata changed and signed with `key` (the attacker's, or a stolen-but-old state)."""
    md = Metadata.from_file(str(path))
    for name, value in changes.items():
        setattr(md.signed, name, value)
    md.signatures.clear()
    md.sign(SSlibSigner(import_ed25519_privatekey_from_file(str(key), prompt=False)))
    return md.to_bytes(JSONSerializer(compact=False))


def test_tampered_target_is_refused(setup: Setup) -> None:
    archive = setup.publish("0.2.0")
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    setup.server.overrides["/targets/ora-0.2.0.tar.gz"] = serve_bytes(bytes(data))
    before = setup.root.state_file.read_text()
    with pytest.raises(TamperedTarget, match="does not match its signed hash") as err:
        _attempt(_service(setup))
    assert "keeps running as before" in str(err.value)
    _assert_untouched(setup, before)


def test_older_release_served_as_the_new_one_is_refused(setup: Setup) -> None:
    setup.publish("0.2.0")
    old = setup.release.repository / "targets" / "ora-0.1.0.tar.gz"
    setup.server.overrides["/targets/ora-0.2.0.tar.gz"] = serve_bytes(old.read_bytes())
    before = setup.root.state_file.read_text()
    # Longer than the signed length: cut off; shorter: a hash mismatch. Refused either way.
    with pytest.raises((TamperedTarget, EndlessData)):
        _attempt(_service(setup))
    _assert_untouched(setup, before)


def test_rollback_to_older_metadata_is_refused(setup: Setup) -> None:
    # The attacker kept the metadata from when 0.2.0 was the newest release and serves it
    # after this PC has already seen 0.3.0's: an older version offered as the newest.
    setup.publish("0.2.0")
    old_meta = setup.tmp / "old-metadata"
    shutil.copytree(setup.release.repository / "metadata", old_meta)
    setup.publish("0.3.0")
    seen = _service(setup).check()
    assert seen is not None and seen.version == "0.3.0"
    before = setup.root.state_file.read_text()
    for name in ("timestamp.json", "snapshot.json", "targets.json"):
        setup.server.overrides[f"/metadata/{name}"] = serve_bytes((old_meta / name).read_bytes())
    with pytest.raises(RollbackAttack, match="older than what this PC already trusts"):
        _attempt(_service(setup))
    _assert_untouched(setup, before)


def test_expired_metadata_is_refused(setup: Setup) -> None:
    # A freeze: the server keeps answering with a timestamp that has since expired.
    setup.publish("0.2.0")
    meta = setup.release.repository / "metadata" / "timestamp.json"
    expired = _resign(
        meta,
        setup.release.keystore / "timestamp",
        expires=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
    )
    setup.server.overrides["/metadata/timestamp.json"] = serve_bytes(expired)
    before = setup.root.state_file.read_text()
    with pytest.raises(FreezeAttack, match="expired"):
        _attempt(_service(setup))
    _assert_untouched(setup, before)


def test_metadata_signed_by_a_wrong_key_is_refused(setup: Setup) -> None:
    # A server with its own keys and a "release" 9.0.0: nothing it signs is trusted here.
    rogue = ReleaseRepo(setup.tmp / "rogue")
    rogue.init(root_keys=1, root_threshold=1)
    rogue.add(make_fake_bundle(setup.tmp / "rogue-bundles", "9.0.0"), "9.0.0")
    server = StaticServer(rogue.repository)
    before = setup.root.state_file.read_text()
    try:
        with pytest.raises(BadSignature, match="not signed by ORA's release keys"):
            _attempt(_service(setup, server.url))
    finally:
        server.close()
    _assert_untouched(setup, before)


def test_timestamp_signed_by_a_wrong_key_is_refused(setup: Setup) -> None:
    setup.publish("0.2.0")
    rogue = ReleaseRepo(setup.tmp / "rogue")
    rogue.init(root_keys=1, root_threshold=1)
    meta = setup.release.repository / "metadata" / "timestamp.json"
    forged = _resign(meta, rogue.keystore / "timestamp")
    setup.server.overrides["/metadata/timestamp.json"] = serve_bytes(forged)
    before = setup.root.state_file.read_text()
    with pytest.raises(BadSignature):
        _attempt(_service(setup))
    _assert_untouched(setup, before)


@pytest.mark.parametrize("path", ["/targets/ora-0.2.0.tar.gz", "/metadata/timestamp.json"])
def test_endless_data_is_cut_off(setup: Setup, path: str) -> None:
    setup.publish("0.2.0")
    setup.server.overrides[path] = serve_endless
    before = setup.root.state_file.read_text()
    with pytest.raises(EndlessData, match="more data than the signed metadata allows"):
        _attempt(_service(setup))
    _assert_untouched(setup, before)


def test_cli_shows_the_refusal(setup: Setup) -> None:
    setup.publish("0.2.0")
    setup.server.overrides["/targets/ora-0.2.0.tar.gz"] = serve_bytes(b"not the release")
    result = setup.ora("update", "apply")
    assert result.returncode == 1
    assert "update refused: the downloaded release does not match" in result.stderr
    assert setup.ora("--version").stdout.strip() == "ora 0.1.0"


def test_key_rotation_keeps_updates_flowing_and_retires_the_old_key(setup: Setup) -> None:
    old_key = setup.release.keystore / "targets"
    old_key_copy = setup.tmp / "stolen-targets-key"
    shutil.copy(old_key, old_key_copy)
    assert setup.release.rotate("targets") == "targets-2"
    setup.publish("0.2.0")
    available = _service(setup).check()
    assert available is not None and available.version == "0.2.0"
    # The retired key no longer counts: targets signed with it alone are refused.
    meta = setup.release.repository / "metadata" / "targets.json"
    forged = _resign(meta, old_key_copy)
    setup.server.overrides["/metadata/targets.json"] = serve_bytes(forged)
    (setup.root.metadata_dir / "targets.json").unlink()  # as on a PC that has not seen it yet
    with pytest.raises(BadSignature):
        _service(setup).check()
