"""The Cloud's key statement: only ORA's release key can make one a device accepts."""

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from installer import release, release_key
from protocol import cloud_key, e2ee
from protocol.encoding import b64u_encode

RELEASE = SigningKey.generate()
PUB = bytes(RELEASE.verify_key)


def _statement(key: SigningKey = RELEASE, days: float = 1) -> tuple[bytes, dict[str, str]]:
    _, cloud_pub = e2ee.generate_keypair()
    return cloud_pub, cloud_key.sign(bytes(key), cloud_pub, time.time() + days * 86400)


def test_a_signed_key_is_accepted_and_follows_the_release_key_convention() -> None:
    cloud_pub, st = _statement()
    assert cloud_key.verify(st, PUB) == cloud_pub
    release_key.verify(  # the convention every user of the key shares (installer.release_key)
        RELEASE.verify_key,
        cloud_key.CONTEXT,
        st["payload"].encode(),
        base64.b64decode(st["signature"]),
    )


@pytest.mark.parametrize(
    "forge",
    [
        lambda st, pub: None,  # no statement at all (today's unsigned key)
        lambda st, pub: {"payload": st["payload"]},
        lambda st, pub: _statement(SigningKey.generate())[1],  # the Relay's own "release key"
        lambda st, pub: {**st, "payload": st["payload"].replace(st["payload"][40:44], "AAAA")},
        lambda st, pub: {**st, "signature": "not base64!"},
        lambda st, pub: _statement(days=-1)[1],  # expired
    ],
)
def test_a_relay_cannot_make_or_alter_a_statement(forge: Any) -> None:
    cloud_pub, st = _statement()
    with pytest.raises(cloud_key.CloudKeyRefused):
        cloud_key.verify(forge(st, cloud_pub), PUB)


def test_a_web_bundle_signature_is_no_cloud_key_statement() -> None:
    _, cloud_pub = e2ee.generate_keypair()
    payload = json.dumps(
        {"kind": "ora-cloud-key", "public_key": b64u_encode(cloud_pub), "not_after": 2**40}
    )
    sig = release_key.sign(RELEASE, "ora-web-bundle/1", payload.encode())
    with pytest.raises(cloud_key.CloudKeyRefused):
        cloud_key.verify({"payload": payload, "signature": base64.b64encode(sig).decode()}, PUB)


def test_the_release_tool_signs_the_clouds_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "release"
    assert release.main(["--workspace", str(workspace), "web-keygen"]) == 0
    pin = release_key.read_public(capsys.readouterr().out)
    _, cloud_pub = e2ee.generate_keypair()
    args = ["--workspace", str(workspace), "cloud-key", "--public-key", b64u_encode(cloud_pub)]
    assert release.main(args) == 0
    statement = json.loads(capsys.readouterr().out)
    assert cloud_key.verify(statement, bytes(pin)) == cloud_pub
    assert release.main([*args[:3], "--public-key", "short"]) == 2
