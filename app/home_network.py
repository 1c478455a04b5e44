"""Home-network mode, and the rule for plain http:// (and ws://) to a Relay.

`make run` starts an embedded Relay. A phone cannot reach 127.0.0.1, so in home-network mode
the Relay listens on the PC's address on the home network and the QR code carries that
address. That connection is plain http: content stays end-to-end encrypted (the Relay and
anyone on the Wi-Fi see only sealed frames), but the connection itself is not, and the screens
say so. The mode is off as soon as the user sets a relay_url of their own.

The rule (issue 17): the Node speaks plain http/ws to a Relay only on this PC (loopback), or
when the user chose home-network mode and the Relay's address is a private one (a literal
IP in 10/8, 172.16/12, 192.168/16, 169.254/16, fc00::/7, fe80::/10). Everything else needs
https. The web client keeps the same rule (client.js, `plainRelayRule`).

`python -m app.home_network` prints the address `make run` should offer, or nothing when
home-network mode does not apply (a relay_url is configured, or no network is up).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Mapping
from urllib.parse import urlsplit

PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: this PC only."""
    ip = _ip(host)
    return host == "localhost" or (ip is not None and ip.is_loopback)


def is_private_address(host: str) -> bool:
    """A literal address of a home network (never a name: a name can resolve anywhere)."""
    ip = _ip(host)
    return ip is not None and any(ip in net for net in PRIVATE_NETWORKS)


class PlainRelayRefused(ValueError):
    """Plain http/ws to a Relay that is neither on this PC nor a chosen home-network Relay."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(url)
        self.url = url
        self.reason = reason  # "public" (an address beyond home) or "not_chosen"


def check_relay_url(url: str, *, home_network: bool) -> bool:
    """Whether the connection is plain (True: say so on screen); raise PlainRelayRefused."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "wss"):
        return False
    host = parts.hostname or ""
    if is_loopback(host):
        return False
    if not is_private_address(host):
        raise PlainRelayRefused(url, "public")
    if not home_network:
        raise PlainRelayRefused(url, "not_chosen")
    return True


def refusal_message(err: PlainRelayRefused, language: str) -> str:
    """The refusal in the user's language (the tray has its own, translated by Qt)."""
    if language == "ja":
        if err.reason == "public":
            return (
                f"Relay {err.url} には暗号化されていない http で接続することになるため、接続しません。"
                "https:// の relay_url を設定してください。"
            )
        return (
            f"Relay {err.url} はホームネットワーク上のアドレスですが、ホームネットワーク・モードが"
            "選ばれていないため、暗号化されていない http では接続しません。"
            "config.toml に home_network = true を設定するか、https を使ってください。"
        )
    if err.reason == "public":
        return (
            f"ORA will not connect to the Relay at {err.url} over plain http: the connection "
            "would not be encrypted beyond your PC. Set an https:// relay_url."
        )
    return (
        f"The Relay at {err.url} is on a home-network address, but home-network mode was not "
        "chosen, so ORA will not use plain http to it. Set home_network = true in config.toml "
        "(or use https)."
    )


def pairing_web_url(relay_url: str, web_url: str, *, home_network: bool) -> str:
    """Where pairing links open the web client; marked `?home=1` in home-network mode, which
    is how the web client knows the plain-http Relay was chosen (it keeps the rule too)."""
    if not home_network or urlsplit(relay_url).scheme == "https":
        return web_url
    return (web_url or relay_url.rstrip("/") + "/app/") + "?home=1"


def lan_address(env: Mapping[str, str]) -> str:
    """This PC's address on its home network, or "" when it has none.

    A UDP socket "connected" to a private address sends nothing; it only makes the OS pick
    the interface (and so the address) it would route through. ORA_LAN_ADDRESS overrides it.
    """
    if env.get("ORA_LAN_ADDRESS"):
        return env["ORA_LAN_ADDRESS"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            return ""
    return address if is_private_address(address) else ""


def main(profile: str = "private") -> int:
    """Print the address `make run` offers in home-network mode ("" = mode off)."""
    from app.settings import Settings, load_settings

    env = {k: v for k, v in os.environ.items() if k != "ORA_RELAY_URL"}
    settings = load_settings(profile, env=env)
    if settings.relay_url != Settings.relay_url:
        return 0  # the user chose a Relay: no home-network mode
    print(lan_address(env))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:2]))
