"""Why the Relay refuses something; `code` goes on the wire, the message to a person."""


class RelayError(Exception):
    """Base of the Relay's refusals."""

    code = "error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthorized(RelayError):
    """Unknown, wrong or malformed credential."""

    code = "unauthorized"
    status = 401


class TokenExpired(Unauthorized):
    """The access token is past its lifetime: refresh it."""

    code = "token_expired"


class TokenRevoked(Unauthorized):
    """The token or its device was revoked."""

    code = "revoked"


class RefreshReused(Unauthorized):
    """A refresh token was used twice: the whole token family is revoked."""

    code = "refresh_reused"


class PairingRefused(RelayError):
    """The pairing secret is wrong, used, expired, or the pairing is locked."""

    code = "pairing_refused"
    status = 403


class PairingLocked(PairingRefused):
    """Too many wrong codes: the pairing is closed for good."""

    code = "pairing_locked"


class RateLimited(RelayError):
    """Too many attempts."""

    code = "rate_limited"
    status = 429


class NodeOffline(RelayError):
    """The device's Node is not connected."""

    code = "node_offline"
    status = 503


class NotPaired(RelayError):
    """A device addressed a Node it is not paired with."""

    code = "not_paired"
    status = 403


class UpdateRequired(RelayError):
    """The peer's protocol or app version is no longer served."""

    code = "update_required"
    status = 426


class BadRequest(RelayError):
    """Malformed input."""

    code = "bad_request"
    status = 400


class SubscriptionInactive(RelayError):
    """The account's Relay subscription is past due or cancelled."""

    code = "subscription_inactive"
    status = 402


class CloudNotAllowed(RelayError):
    """This device may not send requests to the paid Cloud."""

    code = "cloud_not_allowed"
    status = 403


class NoCloudBudget(RelayError):
    """The account has no Cloud budget yet: a subscription payment activates it."""

    code = "no_cloud_budget"
    status = 402


class CloudUnavailable(RelayError):
    """No Cloud worker is connected."""

    code = "cloud_unavailable"
    status = 503


class WebhookRefused(RelayError):
    """A payment-provider webhook failed its signature, timestamp or replay check."""

    code = "webhook_refused"
    status = 400


class PushRefused(RelayError):
    """This device may not receive notifications, or its subscription is not acceptable."""

    code = "push_refused"
    status = 403
