"""Sealed notification text: only the device opens it, and only on the push it was made for."""

import pytest
from nacl.public import PrivateKey

from protocol.notify import NotifyError, open_text, seal_text

IDS = {"approval_id": "a-1"}


def _seal(node: PrivateKey, device: PrivateKey) -> str:
    return seal_text(
        bytes(node),
        bytes(device.public_key),
        kind="approval_waiting",
        event_id="ev-1",
        ids=IDS,
        fields={"tool": "files.delete", "device": "Desktop"},
    )


def test_the_device_opens_the_nodes_text() -> None:
    node, device = PrivateKey.generate(), PrivateKey.generate()
    sealed = _seal(node, device)
    assert "files" not in sealed
    fields = open_text(
        bytes(device),
        bytes(node.public_key),
        sealed,
        kind="approval_waiting",
        event_id="ev-1",
        ids=IDS,
    )
    assert fields == {"tool": "files.delete", "device": "Desktop"}


@pytest.mark.parametrize("attack", ["other_event", "other_ids", "other_node", "other_device"])
def test_a_text_moved_or_forged_is_refused(attack: str) -> None:
    node, device = PrivateKey.generate(), PrivateKey.generate()
    sealed = _seal(PrivateKey.generate() if attack == "other_node" else node, device)
    reader = PrivateKey.generate() if attack == "other_device" else device
    with pytest.raises(NotifyError):
        open_text(
            bytes(reader),
            bytes(node.public_key),
            sealed,
            kind="approval_waiting",
            event_id="ev-2" if attack == "other_event" else "ev-1",
            ids={"approval_id": "a-9"} if attack == "other_ids" else IDS,
        )
