"""The browser's crypto (tweetnacl, run under node) and the Node's (PyNaCl) understand each other,
and the JS side refuses the same attacks the Python side does."""

import base64
import hashlib
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from protocol import e2ee, pairing
from protocol import messages as m
from protocol.encoding import b64u_decode, b64u_encode

HARNESS = Path(__file__).with_name("interop.js")
WEB = Path(__file__).resolve().parents[2] / "assets" / "web"
pytestmark = pytest.mark.skipif(
    shutil.which("node") is None, reason="node is installed by make test"
)


def js(op: str, **req: Any) -> dict[str, Any]:
    out = subprocess.run(
        ["node", str(HARNESS)],
        input=json.dumps({"op": op, **req}),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_vendored_tweetnacl_is_the_pinned_npm_release() -> None:
    vendor = json.loads((WEB / "vendor" / "VENDOR.json").read_text())["tweetnacl"]
    data = (WEB / "vendor" / vendor["file"]).read_bytes()
    assert vendor["version"] == "1.0.3"
    assert (
        vendor["file_sha512"]
        == "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    )


def _keys() -> tuple[bytes, bytes, bytes, bytes, bytes]:
    dev, dev_pub = e2ee.generate_keypair()
    node, node_pub = e2ee.generate_keypair()
    eph, _ = e2ee.generate_keypair()
    return dev, dev_pub, node, node_pub, eph


def test_session_both_ways_between_js_device_and_python_node() -> None:
    dev, dev_pub, node, node_pub, eph = _keys()
    base = {
        "device_secret": b64u_encode(dev),
        "node_public": b64u_encode(node_pub),
        "ephemeral": b64u_encode(eph),
    }
    hs1 = b64u_decode(js("hs1", **base)["hs1"])
    hs2, node_session = e2ee.respond(node, dev_pub, hs1)
    frames = [node_session.seal("こんにちは from Python".encode()), node_session.seal(b"second")]
    result = js(
        "session",
        **base,
        hs2=b64u_encode(hs2),
        frames=[b64u_encode(f) for f in frames],
        send=["hello from JS", "again"],
    )
    assert result["received"] == [{"ok": "こんにちは from Python"}, {"ok": "second"}]
    assert [node_session.open(b64u_decode(f)) for f in result["sent"]] == [
        b"hello from JS",
        b"again",
    ]


def test_js_refuses_replayed_reordered_and_tampered_frames() -> None:
    dev, dev_pub, node, node_pub, eph = _keys()
    base = {
        "device_secret": b64u_encode(dev),
        "node_public": b64u_encode(node_pub),
        "ephemeral": b64u_encode(eph),
    }
    hs2, node_session = e2ee.respond(node, dev_pub, b64u_decode(js("hs1", **base)["hs1"]))
    one, two, three = (node_session.seal(x) for x in (b"1", b"2", b"3"))
    tampered = bytearray(three)
    tampered[-1] ^= 1
    sequence = [one, one, three, bytes(tampered), two, three]
    result = js(
        "session", **base, hs2=b64u_encode(hs2), frames=[b64u_encode(f) for f in sequence], send=[]
    )
    kinds = [r.get("ok") or r["error"] for r in result["received"]]
    assert kinds == ["1", "ReplayError", "ReplayError", "ReplayError", "2", "3"]
    # A tampered frame at the expected counter fails authentication, not the counter check.
    result = js(
        "session",
        **base,
        hs2=b64u_encode(hs2),
        frames=[b64u_encode(one), b64u_encode(two), b64u_encode(bytes(tampered))],
        send=[],
    )
    assert [r.get("ok") or r["error"] for r in result["received"]] == ["1", "2", "CryptoError"]


def test_js_detects_a_substituted_node_key_at_handshake() -> None:
    dev, dev_pub, _node, node_pub, eph = _keys()
    impostor, _ = e2ee.generate_keypair()
    base = {
        "device_secret": b64u_encode(dev),
        "node_public": b64u_encode(node_pub),
        "ephemeral": b64u_encode(eph),
    }
    hs2, _ = e2ee.respond(impostor, dev_pub, b64u_decode(js("hs1", **base)["hs1"]))
    result = js("session", **base, hs2=b64u_encode(hs2), frames=[], send=[])
    assert result["handshake_error"] == "HandshakeError" and "identity" in result["message"]


def test_pairing_request_answer_proof_and_code_interoperate() -> None:
    node, node_pub = e2ee.generate_keypair()
    dev, dev_pub = e2ee.generate_keypair()
    invite = pairing.PairingInvite(
        relay_url="http://127.0.0.1:8470",
        node_id="node-1",
        pairing_id="pair-1",
        secret=pairing.new_secret(),
        node_public_key=node_pub,
    )
    out = js(
        "pairing",
        url=invite.to_url("http://127.0.0.1:8470/app/"),
        device_secret=b64u_encode(dev),
        name="スマホ",
    )
    assert (out["relay"], out["node_id"], out["pairing_id"]) == (
        "http://127.0.0.1:8470",
        "node-1",
        "pair-1",
    )
    assert out["proof"] == pairing.relay_proof(invite.secret)
    assert pairing.proof_matches(out["proof"], pairing.relay_verifier(invite.secret))
    request = pairing.open_request(node_private_key=node, sealed=b64u_decode(out["sealed"]))
    assert (
        request.device_public_key == dev_pub
        and request.device_name == "スマホ"
        and pairing.secret_matches(request, invite.secret)
    )
    sealed = pairing.seal_answer(
        node_private_key=node,
        device_public_key=dev_pub,
        answer={"pairing_id": "pair-1", "device_id": "d-1"},
    )
    got = js(
        "answer",
        device_secret=b64u_encode(dev),
        node_public=b64u_encode(node_pub),
        sealed=b64u_encode(sealed),
        pairing_id="pair-1",
    )
    assert got["answer"]["device_id"] == "d-1"
    # An answer forged by anyone without the Node's key (a malicious Relay) is refused.
    relay_key, _ = e2ee.generate_keypair()
    forged = pairing.seal_answer(
        node_private_key=relay_key, device_public_key=dev_pub, answer={"pairing_id": "pair-1"}
    )
    got = js(
        "answer",
        device_secret=b64u_encode(dev),
        node_public=b64u_encode(node_pub),
        sealed=b64u_encode(forged),
        pairing_id="pair-1",
    )
    assert got["error"] == "PairingError"


def test_routing_frames_interoperate() -> None:
    peer = str(uuid.uuid4())
    out = js(
        "frame",
        peer_id=peer,
        payload=b64u_encode(b"opaque"),
        python_frame=b64u_encode(m.pack_frame(peer, b"from-py")),
    )
    assert m.unpack_frame(b64u_decode(out["packed"])) == (m.ROUTED, peer, b"opaque")
    assert out["peer_id"] == peer and b64u_decode(out["payload"]) == b"from-py"


@pytest.mark.parametrize(
    "fragment",
    [
        "v=2&r=http://x&n=n&p=p&s=AA&k=AA",
        "v=1&r=javascript:alert(1)&n=n&p=p&s=" + "A" * 43 + "&k=" + "A" * 43,
        "v=1&n=n",
    ],
)
def test_js_refuses_damaged_invites(fragment: str) -> None:
    assert js("bad_invite", url="http://127.0.0.1/app/#" + fragment)["error"] == "PairingError"


def test_typed_code_derivations_match() -> None:
    code = pairing.new_code()
    out = js("code", code=code.lower().replace("-", " "))
    assert out["pairing_id"] == pairing.code_pairing_id(code)


def test_js_and_python_pad_to_the_same_buckets() -> None:
    sizes = [*range(0, 1100, 7), 4099, 65_536, 70_004, 1024 * 1024 + 4, 1024 * 1024 + 900]
    assert js("buckets", sizes=sizes)["buckets"] == [e2ee.bucket(n) for n in sizes]
    key = bytes(range(32))
    payloads = [b"", b"ok", bytes(300), "日本語".encode() * 500]
    sent = js("seal_raw", send_key=b64u_encode(key), payloads=[b64u_encode(p) for p in payloads])
    receiver = e2ee.Session(send_key=bytes(32), recv_key=key)
    sender = e2ee.Session(send_key=key, recv_key=bytes(32))
    for payload, frame in zip(payloads, sent["sent"], strict=True):
        assert b64u_decode(frame) == sender.seal(payload)  # byte for byte the same frame
        assert receiver.open(b64u_decode(frame)) == payload


def test_js_refuses_a_frame_padded_wrongly() -> None:
    import struct

    import nacl.bindings as sodium

    key = bytes(range(32))

    def frame(counter: int, plaintext: bytes) -> str:
        nonce = bytes(16) + counter.to_bytes(8, "big")
        box = sodium.crypto_secretbox_easy(plaintext, nonce, key)
        return b64u_encode(struct.pack(">BQ", e2ee.DATA, counter) + box)

    bad = [
        frame(0, struct.pack(">I", 3) + b"abc" + bytes(248) + b"\x01"),  # non-zero padding
        frame(0, struct.pack(">I", 3) + b"abc"),  # not padded to its bucket
        frame(0, struct.pack(">I", 999) + bytes(252)),  # a length past the end
        frame(0, e2ee.pad(b"fine")),  # the same counter, well padded: accepted
    ]
    out = js("open_raw", recv_key=b64u_encode(key), frames=bad)["received"]
    assert [r.get("error") for r in out[:3]] == ["CryptoError"] * 3
    assert b64u_decode(out[3]["ok"]) == b"fine"
