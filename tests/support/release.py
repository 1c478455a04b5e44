"""The test suite's own ORA release key: what a bundle built for the tests would pin.

Tests never see the real release key's private half; they sign with this one, and the
devices they drive (tests.support.device_client, the web client's release-key.json in
browser tests) pin its public half.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from pathlib import Path

from nacl.signing import SigningKey

from protocol import cloud_key
from protocol.encoding import b64u_decode

WEB = Path(__file__).resolve().parents[2] / "assets" / "web"
TEST_RELEASE_KEY = SigningKey.generate()
TEST_RELEASE_PUBLIC = bytes(TEST_RELEASE_KEY.verify_key)


def release_key_json(key: SigningKey = TEST_RELEASE_KEY) -> str:
    """The bundle's release-key.json for this key."""
    return json.dumps({"ed25519_public": base64.b64encode(bytes(key.verify_key)).decode()})


def cloud_key_statement(
    cloud_public_b64u: str, key: SigningKey = TEST_RELEASE_KEY, days: float = 30
) -> str:
    """ORA_RELAY_CLOUD_KEY_STATEMENT for a Cloud key, signed by `key`."""
    statement = cloud_key.sign(
        bytes(key), b64u_decode(cloud_public_b64u, length=32), time.time() + days * 86400
    )
    return json.dumps(statement)


def pinned_web_dir(dest: Path, key: SigningKey = TEST_RELEASE_KEY) -> Path:
    """A copy of the web client whose release-key.json pins `key` (ORA_RELAY_WEB_DIR)."""
    shutil.copytree(WEB, dest, dirs_exist_ok=True)
    (dest / "release-key.json").write_text(release_key_json(key))
    return dest
