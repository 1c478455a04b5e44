"""The strict control-message codec and the routing frame."""

import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import messages as m
from protocol.errors import (
    BadFieldType,
    DecodeError,
    FrameError,
    IncompatibleVersion,
    MissingField,
    UnexpectedField,
    UnknownMessageType,
)
from protocol.version import check_peer_version


def test_round_trip() -> None:
    msg = m.Hello(version="1.0.0", role=m.PeerKind.DEVICE, token="t")
    assert m.decode(m.encode(msg)) == msg


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"type": "nope"}, UnknownMessageType),
        ({"version": "1.0.0"}, MissingField),
        ({"type": "hello", "version": "1.0.0", "role": "device"}, MissingField),
        (
            {"type": "hello", "version": "1.0.0", "role": "device", "token": "t", "x": 1},
            UnexpectedField,
        ),
        ({"type": "hello", "version": 1, "role": "device", "token": "t"}, BadFieldType),
        ({"type": "hello", "version": "1.0.0", "role": "admin", "token": "t"}, BadFieldType),
        ({"type": "presence", "peer_id": "p", "online": 1}, BadFieldType),
    ],
)
def test_malformed_messages_are_named_errors(
    body: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        m.decode(json.dumps(body))


@given(st.one_of(st.text(), st.binary(), st.dictionaries(st.text(), st.integers()).map(json.dumps)))
def test_arbitrary_input_never_escapes_as_another_exception(data: str | bytes) -> None:
    try:
        m.decode(data)
    except DecodeError:
        pass


def test_frame_round_trip_and_limits() -> None:
    peer = str(uuid.uuid4())
    assert m.unpack_frame(m.pack_frame(peer, b"abc")) == (m.ROUTED, peer, b"abc")
    with pytest.raises(FrameError):
        m.unpack_frame(b"\x01short")
    with pytest.raises(FrameError):
        m.unpack_frame(b"\x09" + bytes(16))
    with pytest.raises(FrameError):
        m.unpack_frame(m.pack_frame(peer, bytes(100)), max_bytes=64)


def test_versions_current_and_previous_major_served() -> None:
    check_peer_version("1.4.2", current="1.0.0")
    check_peer_version("0.9.0", current="1.0.0")
    with pytest.raises(IncompatibleVersion, match="update"):
        check_peer_version("1.0.0", current="3.0.0")
    with pytest.raises(IncompatibleVersion):
        check_peer_version("garbage")


@pytest.mark.parametrize(
    ("relay", "ok"), [("1.0.0", True), ("1.9.3", True), ("2.0.0", True), ("3.0.0", False)]
)
def test_a_client_accepts_a_relay_one_major_apart_and_says_update_beyond(
    relay: str, ok: bool
) -> None:
    from protocol.errors import IncompatibleVersion
    from protocol.version import check_relay_version

    if ok:
        check_relay_version(relay, current="1.2.0")
        check_relay_version("1.0.0", current="2.0.0")
    else:
        with pytest.raises(IncompatibleVersion, match="update needed"):
            check_relay_version(relay, current="1.2.0")


def test_peer_kind_is_an_enum_on_both_sides_of_the_wire() -> None:
    hello = m.decode('{"type":"hello","version":"1.0.0","role":"node","token":"t"}')
    assert isinstance(hello, m.Hello) and hello.role is m.PeerKind.NODE
    with pytest.raises(BadFieldType):
        m.decode('{"type":"hello","version":"1.0.0","role":"admin","token":"t"}')
