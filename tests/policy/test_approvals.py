"""The approval broker: one exact action, once, by the owner, elsewhere, before it expires."""

import asyncio
from typing import Any

import pytest

from app.policy.approvals import ApprovalBroker, ApprovalError, Outcome, args_digest
from app.policy.gate import Risk, Role


def _request(
    broker: ApprovalBroker,
    channel: str = "device-A",
    timeout: float = 5.0,
    args: dict | None = None,
):
    return broker.request(
        tool="files_delete",
        arguments=args or {"path": "report.docx"},
        risk=Risk.HIGH,
        requester="owner",
        requester_role=Role.OWNER,
        channel=channel,
        reason="HIGH risk",
        timeout_s=timeout,
    )


def _answer(broker, req, *, approve=True, channel="tray", role=Role.OWNER, digest=None):
    return broker.answer(
        req.approval_id,
        approve=approve,
        digest=digest or req.digest,
        answered_by="owner",
        answerer_role=role,
        channel=channel,
    )


async def test_approve_once_then_every_later_answer_is_refused() -> None:
    broker = ApprovalBroker()
    req = _request(broker)
    assert _answer(broker, req).outcome is Outcome.APPROVED
    with pytest.raises(ApprovalError, match="already answered"):
        _answer(broker, req)
    with pytest.raises(ApprovalError):
        _answer(broker, req, approve=False, channel="device-B")


async def test_waiter_gets_the_answer() -> None:
    broker = ApprovalBroker()
    req = _request(broker)
    waiter = asyncio.create_task(broker.wait(req.approval_id))
    await asyncio.sleep(0)
    _answer(broker, req, approve=False, channel="device-B")
    assert (await waiter).outcome is Outcome.DENIED


async def test_expiry_denies_and_a_late_answer_is_refused() -> None:
    broker = ApprovalBroker()
    req = _request(broker, timeout=0.05)
    resolution = await asyncio.wait_for(broker.wait(req.approval_id), 2)
    assert resolution.outcome is Outcome.EXPIRED
    with pytest.raises(ApprovalError):
        _answer(broker, req)


async def test_answer_from_the_requesting_device_is_refused() -> None:
    broker = ApprovalBroker()
    req = _request(broker, channel="device-A")
    with pytest.raises(ApprovalError, match="device that asked"):
        _answer(broker, req, channel="device-A")
    assert _answer(broker, req, channel="device-B").outcome is Outcome.APPROVED


async def test_the_owner_at_the_pc_may_approve_a_request_made_there() -> None:
    broker = ApprovalBroker()
    req = _request(broker, channel="tray")
    assert _answer(broker, req, channel="tray").outcome is Outcome.APPROVED


async def test_approval_for_other_arguments_is_refused() -> None:
    broker = ApprovalBroker()
    req = _request(broker, args={"path": "report.docx"})
    other = args_digest("files_delete", {"path": "/home/owner"})
    with pytest.raises(ApprovalError, match="does not match"):
        _answer(broker, req, digest=other)
    assert broker.pending()  # still waiting for a real answer


async def test_only_the_owner_answers() -> None:
    broker = ApprovalBroker()
    req = _request(broker)
    for role in (Role.GUEST, Role.SUB_ADMIN):
        with pytest.raises(ApprovalError, match="only the owner"):
            _answer(broker, req, role=role)


async def test_listeners_hear_requests_and_resolutions_so_other_popups_close() -> None:
    broker = ApprovalBroker()
    seen: list[Any] = []
    broker.subscribe(seen.append)
    req = _request(broker)
    _answer(broker, req, channel="device-B")
    assert seen[0] == req and seen[1].outcome is Outcome.APPROVED and seen[1].channel == "device-B"


async def test_the_request_cannot_be_changed_after_it_was_shown() -> None:
    broker = ApprovalBroker()
    args = {"path": "a.txt"}
    req = _request(broker, args=args)
    args["path"] = "/etc/passwd"
    assert req.arguments == {"path": "a.txt"}
    assert req.digest == args_digest("files_delete", {"path": "a.txt"})


async def test_an_answer_given_before_anyone_waits_is_not_lost() -> None:
    broker = ApprovalBroker()
    req = _request(broker)
    _answer(broker, req, approve=True, channel="terminal")
    assert (await broker.wait(req.approval_id)).outcome is Outcome.APPROVED
    with pytest.raises(ApprovalError):
        await broker.wait(req.approval_id)  # collected once only


async def test_only_the_device_that_asked_can_withdraw_its_request() -> None:
    broker = ApprovalBroker()
    seen: list[Any] = []
    broker.subscribe(seen.append)
    req = _request(broker, channel="device-A")
    waiter = asyncio.create_task(broker.wait(req.approval_id))
    # Another device (even the owner's) cannot withdraw it for the asker: it answers instead.
    with pytest.raises(ApprovalError, match="only the device that asked"):
        broker.retract(req.approval_id, channel="device-B", by="device-B")
    done = broker.retract(req.approval_id, channel="device-A", by="device-A")
    assert done.outcome is Outcome.WITHDRAWN and (await waiter).outcome is Outcome.WITHDRAWN
    assert seen[-1].outcome is Outcome.WITHDRAWN  # every popup and card for it closes
    with pytest.raises(ApprovalError, match="already answered"):
        broker.retract(req.approval_id, channel="device-A", by="device-A")
    with pytest.raises(ApprovalError):
        _answer(broker, req, channel="device-B")  # withdrawn is final
