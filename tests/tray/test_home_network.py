"""The tray keeps the plain-http rule and says which network it offers pairing on."""

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://203.0.113.9:8470", "will not connect to the Relay at http://203.0.113.9:8470"),
        ("http://192.168.77.7:8470", "home-network mode was not chosen"),
    ],
)
def test_a_plain_relay_beyond_this_pc_is_refused_on_screen(
    qtbot: Any, tray_factory: Any, url: str, says: str
) -> None:
    tray = tray_factory(relay_url=url, start_link=True)  # refused before any connection
    assert tray.link is None
    assert says in tray.message_box.text()


def test_home_network_mode_is_said_in_the_tooltip(qtbot: Any, tray_factory: Any) -> None:
    # 127.0.0.2 stands for the PC's home address; nothing listens, the link just retries.
    tray = tray_factory(relay_url="http://127.0.0.2:9", home_network=True, start_link=True)
    assert tray.link is not None
    assert "?home=1" in tray.link.web_url
    tray._refresh_icon()
    tip = tray.tray.toolTip()
    assert "Home network: phones on this network pair through 127.0.0.2" in tip
    assert "not encrypted" in tip
