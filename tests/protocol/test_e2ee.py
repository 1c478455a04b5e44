"""The device<->Node session: it works, and every attack on it is refused."""

import pytest

from protocol import e2ee
from protocol.errors import DecryptError, HandshakeError, ReplayError


def _pair() -> tuple[bytes, bytes, bytes, bytes]:
    dev, dev_pub = e2ee.generate_keypair()
    node, node_pub = e2ee.generate_keypair()
    return dev, dev_pub, node, node_pub


def _session() -> tuple[e2ee.Session, e2ee.Session]:
    dev, dev_pub, node, node_pub = _pair()
    init = e2ee.Initiator(dev, node_pub)
    hs2, node_side = e2ee.respond(node, dev_pub, init.start())
    return init.finish(hs2), node_side


def test_both_directions_round_trip() -> None:
    dev, node = _session()
    assert node.open(dev.seal(b"hello node")) == b"hello node"
    assert dev.open(node.seal(b"hello device")) == b"hello device"
    assert node.open(dev.seal(b"x" * 70_000)) == b"x" * 70_000


def test_ciphertext_never_contains_plaintext_and_nonces_never_repeat() -> None:
    dev, _ = _session()
    frames = [dev.seal(b"MARKER-secret-text") for _ in range(3)]
    assert all(b"MARKER" not in f for f in frames)
    assert len({f[1:9] for f in frames}) == 3


def test_replayed_frame_is_rejected() -> None:
    dev, node = _session()
    frame = dev.seal(b"pay 10")
    node.open(frame)
    with pytest.raises(ReplayError):
        node.open(frame)


def test_reordered_frames_are_rejected() -> None:
    dev, node = _session()
    first, second = dev.seal(b"1"), dev.seal(b"2")
    with pytest.raises(ReplayError):
        node.open(second)
    assert node.open(first) == b"1"
    assert node.open(second) == b"2"


def test_tampered_frame_is_rejected_and_does_not_desync() -> None:
    dev, node = _session()
    frame = bytearray(dev.seal(b"delete nothing"))
    frame[-1] ^= 1
    with pytest.raises(DecryptError):
        node.open(bytes(frame))
    frame[-1] ^= 1
    assert node.open(bytes(frame)) == b"delete nothing"


def test_frame_reflected_back_to_its_sender_is_rejected() -> None:
    dev, _node = _session()
    dev.seal(b"first")
    # Counter 1 is what the device expects next, so only the per-direction key refuses it.
    with pytest.raises(DecryptError):
        dev.open(dev.seal(b"echo"))


def test_wrong_node_key_fails_the_handshake() -> None:
    dev, dev_pub, node, node_pub = _pair()
    impostor, _ = e2ee.generate_keypair()
    init = e2ee.Initiator(dev, node_pub)
    hs2, _ = e2ee.respond(impostor, dev_pub, init.start())
    with pytest.raises(HandshakeError):
        init.finish(hs2)


def test_unknown_device_key_cannot_talk_to_the_node() -> None:
    dev, dev_pub, node, node_pub = _pair()
    stranger, _ = e2ee.generate_keypair()
    init = e2ee.Initiator(stranger, node_pub)
    hs2, node_side = e2ee.respond(node, dev_pub, init.start())
    with pytest.raises(HandshakeError):
        init.finish(hs2)
    # Even a stranger that ignores the failed confirmation cannot produce accepted frames.
    with pytest.raises(DecryptError):
        node_side.open(e2ee.Session(bytes(32), bytes(32)).seal(b"hi"))


def test_sessions_use_fresh_keys() -> None:
    dev, dev_pub, node, node_pub = _pair()
    frames = []
    for _ in range(2):
        init = e2ee.Initiator(dev, node_pub)
        hs2, _ = e2ee.respond(node, dev_pub, init.start())
        frames.append(init.finish(hs2).seal(b"same"))
    assert frames[0] != frames[1]


@pytest.mark.parametrize("bad", [b"", b"\x01", b"\x02" + bytes(32), b"\x01" + bytes(32)])
def test_malformed_handshake_messages_are_named_errors(bad: bytes) -> None:
    dev, dev_pub, node, node_pub = _pair()
    with pytest.raises(HandshakeError):
        e2ee.Initiator(dev, node_pub).finish(bad)
    with pytest.raises(HandshakeError):
        e2ee.respond(node, dev_pub, bad)  # the all-zero key is a low-order point
