"""Cloud execution on the wire: the Cloud's peer id, its handshake, and the messages for it.

A device talks to the Cloud exactly as to its Node: binary routing frames carrying an
end-to-end encrypted session (protocol.e2ee), addressed to the fixed CLOUD_PEER_ID instead of
a Node id. The Relay picks one connected Cloud worker for the session and cannot read it; the
Cloud can (it executes the request), which the client tells the user before sending.

The Cloud cannot know a device's static key in advance (there is no pairing with it), so the
device appends it to the ordinary HS1 and the handshake is otherwise the same Noise-KK-style
one. A Relay that swaps keys still fails: only the holder of the Cloud's private key can
produce HS2's confirmation, and the device pins the Cloud's public key.

    HS1-CLOUD  device -> Cloud  |0x01| e_I (32) | S_I.pub (32) |
    HS2        Cloud -> device  as in protocol.e2ee

Control messages between a Cloud worker and the Relay (text frames) carry routing and billing
metadata only: request id, device id, model, token counts, price. Never content.

    worker -> Relay  cloud_claim(request_id, device_id)        before running a request
    Relay -> worker  cloud_grant(granted, code, remaining_usd)  the ledger's answer; granted,
                     remaining_usd is what the request may spend (its reservation of the budget)
    worker -> Relay  cloud_usage(model, tokens, cost, outcome)  after the stream ended
    Relay -> worker  cloud_recorded(charged, remaining_usd)     charged once per request id
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from protocol import e2ee
from protocol.errors import HandshakeError
from protocol.messages import Message, message

# Not a version-4 UUID, so no Node id can ever collide with it.
CLOUD_PEER_ID = str(uuid.UUID(int=0xC10D))
CLOUD_PEER_RAW = uuid.UUID(CLOUD_PEER_ID).bytes
HS1_CLOUD_SIZE = 1 + 2 * e2ee.KEY_SIZE


def initiate(device_private: bytes, cloud_public: bytes) -> tuple[e2ee.Initiator, bytes]:
    """The device's side: an initiator and its HS1 carrying the device's static public key."""
    initiator = e2ee.Initiator(device_private, cloud_public)
    return initiator, initiator.start() + e2ee.public_key_of(device_private)


def respond(cloud_private: bytes, hs1: bytes) -> tuple[bytes, e2ee.Session, bytes]:
    """The Cloud's side: (HS2, session, the device's static public key)."""
    if len(hs1) != HS1_CLOUD_SIZE or hs1[0] != e2ee.HS1:
        raise HandshakeError("malformed Cloud handshake start")
    device_public = hs1[1 + e2ee.KEY_SIZE :]
    hs2, session = e2ee.respond(cloud_private, device_public, hs1[: 1 + e2ee.KEY_SIZE])
    return hs2, session, device_public


# -- worker <-> Relay (control, text frames) -------------------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class CloudClaim(Message):
    """Worker -> Relay: may this device's request run, and is its id still unused?"""

    TYPE: ClassVar[str] = "cloud_claim"
    request_id: str
    device_id: str


@message
@dataclass(frozen=True, kw_only=True)
class CloudGrant(Message):
    """Relay -> worker: the ledger's answer to a claim, with the budget left this month."""

    TYPE: ClassVar[str] = "cloud_grant"
    request_id: str
    device_id: str
    granted: bool
    code: str = ""
    message: str = ""
    remaining_usd: float = 0.0


@message
@dataclass(frozen=True, kw_only=True)
class CloudUsage(Message):
    """Worker -> Relay: what a claimed request used (the usage event, keyed by request id)."""

    TYPE: ClassVar[str] = "cloud_usage"
    request_id: str
    device_id: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    outcome: str  # completed | budget_exhausted | failed


@message
@dataclass(frozen=True, kw_only=True)
class CloudRecorded(Message):
    """Relay -> worker: the usage event was written (charged) or already was (not charged)."""

    TYPE: ClassVar[str] = "cloud_recorded"
    request_id: str
    device_id: str
    charged: bool
    remaining_usd: float = 0.0  # the month's budget left after this request


# -- Cloud <-> device (inside the end-to-end session) ----------------------------------------


@message
@dataclass(frozen=True, kw_only=True)
class CloudInfo(Message):
    """Cloud -> device when a session starts: the model that will run requests."""

    TYPE: ClassVar[str] = "cloud_info"
    model: str


@message
@dataclass(frozen=True, kw_only=True)
class CloudReceipt(Message):
    """Cloud -> device after `done` (every request gets one): what it cost, what is left.

    It follows `done` because the usage event is written after the reply is complete, off the
    reply's path; `charged` says whether this request id was billed now (False for a refusal or
    a retry of a request already billed)."""

    TYPE: ClassVar[str] = "cloud_receipt"
    id: str
    model: str
    tokens_in: int
    tokens_out: int
    cost_usd: float
    charged: bool
    remaining_usd: float
