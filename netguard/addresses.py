"""Which addresses ORA may connect to on the web's behalf: public (global unicast) ones only.

Refused unless the user allowed private addresses: loopback, RFC 1918 and unique-local, link-local
(cloud metadata services live there), CGNAT 100.64.0.0/10, multicast, unspecified, reserved and
documentation ranges; and an IPv6 address that wraps an IPv4 one (mapped, 6to4, NAT64, Teredo) is
judged by the IPv4 address inside it, so `::ffff:127.0.0.1` is loopback too.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it wraps one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """True for a global unicast address (after unwrapping an IPv4 one inside IPv6)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None and not is_public(inner):
            return False
    return bool(
        address.is_global
        and not address.is_multicast
        and not address.is_unspecified
        and not address.is_reserved
        and not address.is_loopback
        and not address.is_link_local
    )


def parse_address(text: str) -> IPAddress | None:
    """The address written in `text` (a bracketed or zoned IPv6 too), or None for a name."""
    bare = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        return None


@dataclass(frozen=True, kw_only=True)
class AddressPolicy:
    """Public addresses only, unless the user allowed private ones.

    `public_stand_ins` are loopback addresses that play the public internet in tests (a machine
    without network); production code never sets it.
    """

    allow_private: bool = False
    public_stand_ins: frozenset[str] = field(default_factory=frozenset)

    def permits(self, address: IPAddress) -> bool:
        """May ORA connect to this address?"""
        if self.allow_private or str(address) in self.public_stand_ins:
            return True
        return is_public(address)

    def refusal(self, host: str) -> str:
        """The message for a refused host."""
        return (
            f"{host} is an address on this PC or its local network (or not a public address); "
            "fetching it is not allowed"
        )
