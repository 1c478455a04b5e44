"""The web client's protocol constants are the ones protocol/ defines (generated, committed)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from protocol.cloud import CLOUD_PEER_ID
from protocol.errors import ErrorCode
from protocol.version import PROTOCOL_VERSION

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "assets" / "web"


def test_the_committed_file_is_what_the_generator_writes_now() -> None:
    out = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_web_constants.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(shutil.which("node") is None, reason="node is installed by make test")
def test_the_browser_sees_the_python_values() -> None:
    script = (
        "global.self = global;"
        f"require({json.dumps(str(WEB / 'protocol-constants.js'))});"
        "process.stdout.write(JSON.stringify(self.OraProtocol));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    seen = json.loads(out.stdout)
    assert seen["PROTOCOL_VERSION"] == PROTOCOL_VERSION
    assert seen["CLOUD_PEER_ID"] == CLOUD_PEER_ID
    assert seen["ERROR_CODES"] == {code.name: code.value for code in ErrorCode}


def test_the_client_types_no_protocol_constant_of_its_own() -> None:
    client = (WEB / "client.js").read_text(encoding="utf-8")
    assert PROTOCOL_VERSION not in client and CLOUD_PEER_ID not in client
    index = (WEB / "index.html").read_text(encoding="utf-8")
    assert index.index("protocol-constants.js") < index.index("client.js")
