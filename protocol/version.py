"""Protocol version (SemVer): a peer of the current or the previous major version is served."""

from __future__ import annotations

from protocol.errors import IncompatibleVersion

PROTOCOL_VERSION = "1.0.0"


def parse_version(text: str) -> tuple[int, int, int]:
    """Parse 'MAJOR.MINOR.PATCH'; anything else is an IncompatibleVersion."""
    parts = text.split(".")
    if len(parts) != 3 or not all(p.isdigit() and len(p) <= 6 for p in parts):
        raise IncompatibleVersion(f"unreadable protocol version {text!r}: update ORA")
    return int(parts[0]), int(parts[1]), int(parts[2])


def check_peer_version(peer_version: str, current: str = PROTOCOL_VERSION) -> None:
    """Accept the current and the previous major version; tell anything older to update."""
    peer_major = parse_version(peer_version)[0]
    our_major = parse_version(current)[0]
    if peer_major > our_major:
        raise IncompatibleVersion(
            f"protocol {peer_version} is newer than this server's {current}: the server must update"
        )
    if peer_major < our_major - 1:
        raise IncompatibleVersion(
            f"protocol {peer_version} is no longer supported (this server speaks {current}): "
            "update ORA to the latest version"
        )


def check_relay_version(relay_version: str, current: str = PROTOCOL_VERSION) -> None:
    """A client's check of the Relay's Welcome: a Relay serves its own major and the previous
    one, so one major apart either way still talks; further apart, one side must update."""
    relay_major = parse_version(relay_version)[0]
    our_major = parse_version(current)[0]
    if abs(relay_major - our_major) > 1:
        side = "ORA on this device" if relay_major > our_major else "the Relay"
        raise IncompatibleVersion(
            f"update needed: the Relay speaks protocol {relay_version} and this ORA {current}; "
            f"update {side}"
        )
