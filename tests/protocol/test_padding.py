"""What the Relay learns from a frame's size: only its bucket, never the exact length."""

import struct

import nacl.bindings as sodium
import pytest

from protocol import e2ee
from protocol.errors import DecryptError


def _sessions() -> tuple[e2ee.Session, e2ee.Session]:
    a, b = bytes(range(32)), bytes(range(32, 64))
    return e2ee.Session(send_key=a, recv_key=b), e2ee.Session(send_key=b, recv_key=a)


def test_messages_of_different_lengths_in_one_bucket_look_the_same_on_the_wire() -> None:
    sender, receiver = _sessions()
    yes, no = b'{"type":"chat","text":"yes"}', b'{"type":"chat","text":"no, delete all of it"}'
    frames = [sender.seal(yes), sender.seal(no)]
    assert len(frames[0]) == len(frames[1])
    assert [receiver.open(f) for f in frames] == [yes, no]


@pytest.mark.parametrize("size", [0, 1, 251, 252, 253, 1000, 4096, 70_000, 1024 * 1024])
def test_every_length_round_trips_and_costs_at_most_an_eighth_above_the_minimum(size: int) -> None:
    sender, receiver = _sessions()
    payload = bytes([7]) * size
    frame = sender.seal(payload)
    assert receiver.open(frame) == payload
    padded = len(frame) - e2ee.DATA_OVERHEAD
    assert padded >= size + 4
    assert padded <= max(e2ee.MIN_BUCKET, (size + 4) * 1.125)


def test_sizes_collapse_into_few_buckets() -> None:
    sizes = {e2ee.bucket(n) for n in range(1, 64 * 1024)}
    assert len(sizes) <= 130  # 65,535 lengths, 129 sizes the Relay can tell apart


def _forge(key: bytes, plaintext: bytes) -> bytes:
    """A frame sealed with the right key around a plaintext that was not made by pad()."""
    nonce = bytes(16) + (0).to_bytes(8, "big")
    return struct.pack(">BQ", e2ee.DATA, 0) + sodium.crypto_secretbox_easy(plaintext, nonce, key)


@pytest.mark.parametrize(
    "plaintext",
    [
        b"",  # no length field
        struct.pack(">I", 300) + bytes(252),  # a length longer than the frame
        struct.pack(">I", 3) + b"abc" + bytes(249) + b"\x01",  # padding that is not zero
        struct.pack(">I", 3) + b"abc",  # not padded to its bucket
        struct.pack(">I", 3) + b"abc" + bytes(1000),  # padded past its bucket
    ],
)
def test_a_peer_that_pads_wrongly_is_refused(plaintext: bytes) -> None:
    sender_key = bytes(range(32))
    receiver = e2ee.Session(send_key=bytes(32), recv_key=sender_key)
    with pytest.raises(DecryptError):
        receiver.open(_forge(sender_key, plaintext))
    assert receiver.recv_counter == 0  # a refused frame does not advance the session
