"""One address policy and one guarded fetcher for every part of ORA that reaches the web.

The Node's `web_fetch`, its browser, and the Cloud worker's fetcher all import this package (it
imports none of them): a name is resolved once per connection, every answer is checked, and the
connection goes to exactly the checked address, so DNS rebinding cannot slip a private address
in between a check and a connect; each redirect hop is a new connection under the same check.
"""

from netguard.addresses import AddressPolicy, is_public
from netguard.errors import (
    AddressRefused,
    FetchFailed,
    FetchRefused,
    FetchTimeout,
    NotText,
    SchemeRefused,
    TooLarge,
    TooManyRedirects,
)
from netguard.fetcher import Fetched, GuardedFetcher, GuardedResolver, Lookup

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "FetchFailed",
    "FetchRefused",
    "FetchTimeout",
    "Fetched",
    "GuardedFetcher",
    "GuardedResolver",
    "Lookup",
    "NotText",
    "SchemeRefused",
    "TooLarge",
    "TooManyRedirects",
    "is_public",
]
