"""Why a fetch was refused or failed; every message can be shown to the user as is."""

from __future__ import annotations


class FetchRefused(Exception):
    """The base of every refusal and failure of a guarded fetch (the message says why)."""


class SchemeRefused(FetchRefused):
    """Only http and https can be fetched."""


class AddressRefused(FetchRefused):
    """The host is (or resolves to) an address on this machine, its network, or not public."""


class TooManyRedirects(FetchRefused):
    """The redirect chain is longer than the limit."""


class TooLarge(FetchRefused):
    """The body is larger than the limit."""


class NotText(FetchRefused):
    """The content type is not one the caller accepts."""


class FetchTimeout(FetchRefused):
    """The server did not answer in time."""


class FetchFailed(FetchRefused):
    """The connection or the HTTP exchange failed."""
