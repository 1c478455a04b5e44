"""Every failure the wire protocol can report; callers never see library internals."""

from enum import StrEnum


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


class ErrorCode(StrEnum):
    """Every refusal code on the wire (messages.Error, app_messages.AppError and the Relay's
    JSON `error` field), shared by the Relay, the Node, the Cloud and the web client
    (assets/web/protocol-constants.js is generated from this by scripts/gen_web_constants.py)."""

    # the Relay: connection, tokens, pairing
    ERROR = "error"  # a refusal without a more precise code
    UNAUTHORIZED = "unauthorized"
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 (a refusal code, not a secret)
    REVOKED = "revoked"
    REFRESH_REUSED = "refresh_reused"
    PAIRING_REFUSED = "pairing_refused"
    RATE_LIMITED = "rate_limited"
    NODE_OFFLINE = "node_offline"
    NOT_PAIRED = "not_paired"
    UPDATE_REQUIRED = "update_required"  # the peer's protocol major version is not served
    BAD_REQUEST = "bad_request"
    BAD_FRAME = "bad_frame"
    BAD_MESSAGE = "bad_message"
    SLOW_CONSUMER = "slow_consumer"
    REPLACED = "replaced"  # the same peer connected again from elsewhere
    RELAY_RESTARTING = "relay_restarting"
    WEBHOOK_REFUSED = "webhook_refused"
    # Cloud execution and billing
    SUBSCRIPTION_INACTIVE = "subscription_inactive"  # the account's Relay plan is not active
    CLOUD_NOT_ALLOWED = "cloud_not_allowed"  # this device may not spend the account's money
    CLOUD_UNAVAILABLE = "cloud_unavailable"  # no Cloud worker is connected (or it went away)
    BUDGET_EXHAUSTED = "budget_exhausted"  # the account's monthly Cloud budget is spent
    NO_CLOUD_BUDGET = "no_cloud_budget"  # a new account: none until a payment activates it
    DUPLICATE_REQUEST = "duplicate_request"  # this request id was already run (not billed again)
    PROVIDER_FAILED = "provider_failed"  # the Cloud's model provider failed
    # the Node, inside the end-to-end session
    APPROVAL_REFUSED = "approval_refused"
    FORBIDDEN = "forbidden"
    UNSUPPORTED = "unsupported"
    NOTHING_TO_CANCEL = "nothing_to_cancel"


# The Cloud and billing codes by their older names (the Relay and the Cloud import these).
SUBSCRIPTION_INACTIVE = ErrorCode.SUBSCRIPTION_INACTIVE
CLOUD_NOT_ALLOWED = ErrorCode.CLOUD_NOT_ALLOWED
CLOUD_UNAVAILABLE = ErrorCode.CLOUD_UNAVAILABLE
BUDGET_EXHAUSTED = ErrorCode.BUDGET_EXHAUSTED
NO_CLOUD_BUDGET = ErrorCode.NO_CLOUD_BUDGET
DUPLICATE_REQUEST = ErrorCode.DUPLICATE_REQUEST
PROVIDER_FAILED = ErrorCode.PROVIDER_FAILED
