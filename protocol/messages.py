"""Control messages between Node, device, Cloud and Relay, and the binary routing frame.

Control messages are JSON text frames: `{"type": "<name>", ...fields}`. Each type is a frozen,
keyword-only dataclass registered here; `decode` is strict: an unknown type, a missing or extra
field, or a field of the wrong JSON type is a named DecodeError, never a half-built object.

Opaque end-to-end encrypted payloads travel as binary frames the Relay routes without parsing:

     0        1                         17
     |--KIND--|------- PEER ID (16) -----|------------ PAYLOAD (opaque) ------------|

PEER ID is the destination when a peer sends to the Relay (a device names its Node, a Node
names the device) and the source when the Relay delivers.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import types
import typing
import uuid
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, ClassVar, TypeVar, Union, get_args, get_origin

from protocol.errors import (
    BadFieldType,
    DecodeError,
    FrameError,
    MissingField,
    UnexpectedField,
    UnknownMessageType,
)

MAX_CONTROL_BYTES = 64 * 1024
MAX_FRAME_BYTES = 1024 * 1024 + 1024  # 1 MiB of payload plus headers

ROUTED = 0x01
_FRAME_HEADER = struct.Struct(">B16s")
FRAME_HEADER_SIZE = _FRAME_HEADER.size


def pack_frame(peer_id: str, payload: bytes, kind: int = ROUTED) -> bytes:
    """Build a routing frame for a peer id (a UUID string)."""
    return _FRAME_HEADER.pack(kind, uuid.UUID(peer_id).bytes) + payload


def unpack_frame(frame: bytes, max_bytes: int = MAX_FRAME_BYTES) -> tuple[int, str, bytes]:
    """Split a routing frame into (kind, peer id, payload); refuse malformed or oversize ones."""
    if len(frame) < FRAME_HEADER_SIZE:
        raise FrameError("frame shorter than its header")
    if len(frame) > max_bytes:
        raise FrameError(f"frame of {len(frame)} bytes exceeds the {max_bytes}-byte limit")
    kind, raw_id = _FRAME_HEADER.unpack_from(frame)
    if kind != ROUTED:
        raise FrameError(f"unknown frame kind {kind:#x}")
    return kind, str(uuid.UUID(bytes=raw_id)), frame[FRAME_HEADER_SIZE:]


class Message:
    """Base of every control message; subclasses are frozen keyword-only dataclasses."""

    TYPE: ClassVar[str] = ""


_REGISTRY: dict[str, type[Message]] = {}
M = TypeVar("M", bound=type[Message])


def message(cls: M) -> M:
    """Register a message class under its TYPE."""
    if not cls.TYPE or cls.TYPE in _REGISTRY:
        raise ValueError(f"message type {cls.TYPE!r} is empty or registered twice")
    _REGISTRY[cls.TYPE] = cls
    return cls


def _matches(value: Any, hint: Any) -> bool:
    """Does a decoded JSON value match a field's annotation?"""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_matches(value, arg) for arg in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        (item,) = get_args(hint)
        return isinstance(value, list) and all(_matches(v, item) for v in value)
    if origin is dict:
        key, val = get_args(hint)
        return isinstance(value, dict) and all(
            _matches(k, key) and _matches(v, val) for k, v in value.items()
        )
    if origin is typing.Literal:
        return value in get_args(hint)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return value in hint._value2member_map_
    raise TypeError(f"unsupported field annotation {hint!r}")


def encode(msg: Message) -> str:
    """Serialise a message to its JSON text frame."""
    body = {"type": msg.TYPE, **dataclasses.asdict(msg)}  # type: ignore[call-overload]
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


_Shape = tuple[dict[str, Any], dict[str, "dataclasses.Field[Any]"]]
_SHAPES: dict[str, _Shape] = {}


def _shape(kind: str, cls: type[Message]) -> _Shape:
    """A message class's field types and fields, worked out once: `get_type_hints` compiles
    every annotation string again on each call, which was most of a hello's CPU."""
    shape = _SHAPES.get(kind)
    if shape is None:
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        shape = _SHAPES[kind] = (hints, fields)
    return shape


def decode(text: str | bytes) -> Message:
    """Parse a JSON text frame into exactly one registered message, or raise a DecodeError."""
    if len(text) > MAX_CONTROL_BYTES:
        raise DecodeError("control message too large")
    try:
        body = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DecodeError("control message is not valid JSON") from None
    if not isinstance(body, dict):
        raise DecodeError("control message is not a JSON object")
    kind = body.pop("type", None)
    if not isinstance(kind, str):
        raise MissingField("control message has no type")
    cls = _REGISTRY.get(kind)
    if cls is None:
        raise UnknownMessageType(f"unknown message type {kind!r}")
    hints, fields = _shape(kind, cls)
    extra = set(body) - set(fields)
    if extra:
        raise UnexpectedField(f"{kind}: unexpected field(s) {sorted(extra)}")
    for name, field in fields.items():
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if name not in body:
            if required:
                raise MissingField(f"{kind}: missing field {name!r}")
            continue
        if not _matches(body[name], hints[name]):
            raise BadFieldType(f"{kind}: field {name!r} has the wrong type")
        if isinstance(hints[name], type) and issubclass(hints[name], Enum):
            body[name] = hints[name](body[name])
    return cls(**body)


def decode_as(text: str | bytes, cls: type[M_co]) -> M_co:
    """Decode and insist on one message type."""
    msg = decode(text)
    if not isinstance(msg, cls):
        raise UnknownMessageType(f"expected {cls.TYPE!r}, got {msg.TYPE!r}")
    return msg


M_co = TypeVar("M_co", bound=Message)


class PeerKind(StrEnum):
    """What kind of peer a connection to the Relay is (Hello.role)."""

    NODE = "node"
    DEVICE = "device"
    CLOUD = "cloud"


PeerRole = PeerKind  # the older name


# -- connection -------------------------------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class Hello(Message):
    """First message of every WebSocket to the Relay: who connects, with which credential."""

    TYPE: ClassVar[str] = "hello"
    version: str
    role: PeerKind
    token: str
    app_version: str = ""


@message
@dataclass(frozen=True, kw_only=True)
class Renew(Message):
    """Device -> Relay: the access token that replaces the one this socket opened with (after
    a refresh), so the socket outlives the old token; an open socket whose token expires ends."""

    TYPE: ClassVar[str] = "renew"
    token: str


@message
@dataclass(frozen=True, kw_only=True)
class Welcome(Message):
    """The Relay accepted the Hello."""

    TYPE: ClassVar[str] = "welcome"
    version: str
    peer_id: str
    server_time: float


@message
@dataclass(frozen=True, kw_only=True)
class Error(Message):
    """A refusal with a machine-readable code and a message a person can act on."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    fatal: bool = True


@message
@dataclass(frozen=True, kw_only=True)
class Presence(Message):
    """A peer came online or went offline (a device learns of its Node, a Node of a device)."""

    TYPE: ClassVar[str] = "presence"
    peer_id: str
    online: bool


# -- pairing ----------------------------------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class PairOpen(Message):
    """Node -> Relay: open a pairing session; the Relay keeps only the verifier."""

    TYPE: ClassVar[str] = "pair_open"
    pairing_id: str
    verifier: str
    ttl_s: int
    role: str


@message
@dataclass(frozen=True, kw_only=True)
class PairRequest(Message):
    """Relay -> Node: a device's sealed pairing request, passed on unread."""

    TYPE: ClassVar[str] = "pair_request"
    pairing_id: str
    request_id: str
    sealed: str


@message
@dataclass(frozen=True, kw_only=True)
class PairDecision(Message):
    """Node -> Relay: the Node accepted or refused a request; on accept the Relay issues tokens."""

    TYPE: ClassVar[str] = "pair_decision"
    pairing_id: str
    request_id: str
    accepted: bool
    device_id: str = ""
    role: str = ""
    answer: str = ""
    reason: str = ""


@message
@dataclass(frozen=True, kw_only=True)
class PairPake(Message):
    """Relay -> Node: a device's SPAKE2 message for a typed-code pairing (protocol.code_pairing)."""

    TYPE: ClassVar[str] = "pair_pake"
    pairing_id: str
    request_id: str
    pake: str


@message
@dataclass(frozen=True, kw_only=True)
class PairPakeReply(Message):
    """Node -> Relay: the Node's reply for the device (opaque), or why there is none.

    `locked` tells the Relay the Node has closed the pairing after too many attempts."""

    TYPE: ClassVar[str] = "pair_pake_reply"
    pairing_id: str
    request_id: str
    reply: str = ""
    locked: bool = False
    reason: str = ""


@message
@dataclass(frozen=True, kw_only=True)
class RevokeDevice(Message):
    """Node -> Relay: revoke a device's tokens and close its connection."""

    TYPE: ClassVar[str] = "revoke_device"
    device_id: str


@message
@dataclass(frozen=True, kw_only=True)
class Revoked(Message):
    """Relay -> device: this device's access was revoked by its owner."""

    TYPE: ClassVar[str] = "revoked"
    reason: str


# -- notifications ----------------------------------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class Notify(Message):
    """Node -> Relay: push an event to the owner's devices that opted in (Web Push).

    A kind and ids only; `sealed` maps a device id to the text the Node sealed for that device
    (protocol.notify), which the Relay passes on unread.
    """

    TYPE: ClassVar[str] = "notify"
    kind: str
    event_id: str
    ids: dict[str, str] = dataclasses.field(default_factory=dict)
    sealed: dict[str, str] = dataclasses.field(default_factory=dict)
