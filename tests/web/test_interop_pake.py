"""The browser's SPAKE2 (assets/web/ora-pake.js on vendored @noble) and python `spake2` agree,
both ways, and the browser's side of typed-code pairing opens only the right code's reply."""

import base64
import hashlib
import json
import shutil

import pytest
import spake2

from protocol import code_pairing as cp
from protocol import e2ee, pairing
from protocol.encoding import b64u_decode, b64u_encode
from tests.web.test_interop import WEB, js

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is installed by make test"
)
VECTOR_KEY = "173c128426e1c662775eb83a0e56c677850ab04fa6946de4c1440291a9627b32"


def _py(side: str, pw: bytes, seed: int) -> spake2.spake2._SPAKE2_Asymmetric:
    cls = spake2.SPAKE2_A if side == "A" else spake2.SPAKE2_B
    return cls(pw, idA=b"alice", idB=b"bob", entropy_f=lambda n: bytes([seed]) * n)


def _js(side: str, pw: bytes, seed: int, inbound: bytes | None = None) -> dict[str, str]:
    req = {
        "side": side,
        "pw": b64u_encode(pw),
        "id_a": b64u_encode(b"alice"),
        "id_b": b64u_encode(b"bob"),
        "seed": seed,
    }
    if inbound is not None:
        req["inbound"] = b64u_encode(inbound)
    return js("spake", **req)


def test_the_published_test_vector() -> None:
    a_msg = b64u_decode(_js("A", b"password", 1)["message"])
    b = _py("B", b"password", 2)
    b_msg = b.start()
    assert b.finish(a_msg).hex() == VECTOR_KEY
    assert b64u_decode(_js("A", b"password", 1, b_msg)["key"]).hex() == VECTOR_KEY


@pytest.mark.parametrize("js_side", ["A", "B"])
def test_js_and_python_agree_from_either_side_and_differ_on_a_wrong_password(js_side: str) -> None:
    py_side = "B" if js_side == "A" else "A"
    for py_pw, same in ((b"7KQ2MXH9PD", True), (b"7KQ2MXH9PE", False)):
        py = _py(py_side, py_pw, 9)
        py_msg = py.start()
        out = _js(js_side, b"7KQ2MXH9PD", 5, py_msg)
        py_key = py.finish(b64u_decode(out["message"]))
        assert (b64u_decode(out["key"]) == py_key) is same


def test_js_refuses_points_outside_the_group_and_reflections() -> None:
    own = b64u_decode(_js("A", b"pw", 3)["message"])
    for bad in (b"B" + bytes(32), b"B" + b"\xff" * 32, b"A" + own[1:], b"B" + own[1:]):
        with pytest.raises(AssertionError):
            _js("A", b"pw", 3, bad)


def test_a_js_device_pairs_by_code_with_a_python_node() -> None:
    code = pairing.new_code()
    message = b64u_decode(js("code_exchange", code=code, seed=7)["message"])
    _, node_pub = e2ee.generate_keypair()
    _, dev_pub = e2ee.generate_keypair()
    secret = pairing.new_secret()
    reply, sas_key = cp.node_reply(
        typed=code,
        device_message=message,
        pairing_id=pairing.code_pairing_id(code),
        node_id="n-1",
        node_public_key=node_pub,
        secret=secret,
    )
    out = js(
        "code_exchange",
        code=code.lower(),
        seed=7,
        reply=b64u_encode(reply),
        device_pub=b64u_encode(dev_pub),
    )
    assert b64u_decode(out["node_pub"]) == node_pub and b64u_decode(out["secret"]) == secret
    assert out["sas"] == cp.verification_code(sas_key, node_pub, dev_pub)


def test_a_js_device_refuses_a_reply_made_with_another_code() -> None:
    code, guess = pairing.new_code(), pairing.new_code()
    message = b64u_decode(js("code_exchange", code=code, seed=8)["message"])
    _, node_pub = e2ee.generate_keypair()
    reply, _ = cp.node_reply(
        typed=guess,
        device_message=message,
        pairing_id=pairing.code_pairing_id(code),
        node_id="n-1",
        node_public_key=node_pub,
        secret=pairing.new_secret(),
    )
    out = js("code_exchange", code=code, seed=8, reply=b64u_encode(reply), device_pub="")
    assert out["error"] == "WrongCode"


def test_vendored_noble_bundle_is_the_pinned_build() -> None:
    vendor = json.loads((WEB / "vendor" / "VENDOR.json").read_text())["noble-spake2"]
    data = (WEB / "vendor" / vendor["file"]).read_bytes()
    assert (
        vendor["file_sha512"]
        == "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    )
    assert vendor["packages"]["@noble/curves"]["version"] == "2.0.1"
