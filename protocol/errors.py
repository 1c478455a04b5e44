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


# Refusal codes of Cloud execution and billing, shared by the Relay, the Cloud and clients
# (they travel in messages.Error / app_messages.AppError `code` fields).
SUBSCRIPTION_INACTIVE = "subscription_inactive"  # the account's Relay plan is past due/cancelled
CLOUD_NOT_ALLOWED = "cloud_not_allowed"  # this device may not spend the account's money
CLOUD_UNAVAILABLE = "cloud_unavailable"  # no Cloud worker is connected (or it went away)
BUDGET_EXHAUSTED = "budget_exhausted"  # the account's monthly Cloud budget is spent
NO_CLOUD_BUDGET = "no_cloud_budget"  # a new account: no Cloud budget until a payment activates it
DUPLICATE_REQUEST = "duplicate_request"  # this request id was already run (not billed again)
PROVIDER_FAILED = "provider_failed"  # the Cloud's model provider failed
