"""The wire protocol shared by Node, Relay and Cloud: messages, framing, pairing, E2EE, tokens."""

from protocol.errors import ProtocolError
from protocol.version import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "ProtocolError"]
