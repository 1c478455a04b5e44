"""Every failure the wire protocol can report; callers never see library internals."""


class ProtocolError(Exception):
    """Base of all protocol errors."""


class DecodeError(ProtocolError):
    """A message could not be decoded into a complete, valid object."""


class UnknownMessageType(DecodeError):
    """The message names a type this protocol version does not define."""


class MissingField(DecodeError):
    """A required field is absent."""


class UnexpectedField(DecodeError):
    """A field the message type does not define is present."""


class BadFieldType(DecodeError):
    """A field has the wrong JSON type."""


class FrameError(DecodeError):
    """A binary frame is too short, too long or of an unknown kind."""


class IncompatibleVersion(ProtocolError):
    """The peer speaks a protocol major version this side no longer serves: it must update."""


class CryptoError(ProtocolError):
    """Base of cryptographic failures."""


class HandshakeError(CryptoError):
    """The session handshake failed: wrong key, malformed message or a bad confirmation."""


class DecryptError(CryptoError):
    """A frame failed authentication: it was forged, tampered with or sealed with another key."""


class ReplayError(CryptoError):
    """A frame's counter is not exactly the next one expected: replayed, reordered or dropped."""


class PairingError(CryptoError):
    """A pairing request or answer is malformed, tampered with or not for this pairing."""
