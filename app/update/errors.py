"""Why an update was not installed, in words a person can act on.

Every refusal leaves the running version and its data untouched; the message says so.
"""

from __future__ import annotations

from app.errors import OraError

UNTOUCHED = "Nothing was installed; this version of ORA keeps running as before."


class UpdateError(OraError):
    """Base of the updater's errors."""


class UpdatesDisabled(UpdateError):
    """Updates are off in the configuration, so no update traffic is allowed."""


class UpdateServerUnreachable(UpdateError):
    """The update server could not be reached or answered with an HTTP error."""


class UpdateRefused(UpdateError):
    """The update server sent something TUF verification refuses: a possible attack."""


class TamperedTarget(UpdateRefused):
    """The downloaded release does not match the signed length and hash."""


class RollbackAttack(UpdateRefused):
    """Signed metadata older than what this PC already trusts was offered as current."""


class FreezeAttack(UpdateRefused):
    """The update metadata has expired: a frozen (stale) server or a replay."""


class BadSignature(UpdateRefused):
    """The update metadata is not signed by the keys this PC trusts."""


class EndlessData(UpdateRefused):
    """The server sent more bytes than the signed metadata allows."""


class UnsafeArchive(UpdateRefused):
    """A signed release archive has members that would be written outside its folder."""


class NotInstalled(UpdateError):
    """This copy of ORA runs from source, not from an installed app, so it cannot be replaced."""


class InstallFailed(UpdateError):
    """A verified release could not be unpacked or put in place."""
