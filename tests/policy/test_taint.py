"""The taint rule's table, cell by cell, and that taint only ever grows within a turn/plan."""

from __future__ import annotations

import pytest

from app.policy.gate import Decision, Profile, Risk, Role, Verdict, decide
from app.policy.taint import Outbound, TaintState, ToolFlow

SENDS = ToolFlow(sends_out=True, untrusted=True)
LOCAL = ToolFlow(private=True)


def base(verdict: Verdict) -> Decision:
    return Decision(verdict=verdict, reason="table")


@pytest.mark.parametrize("verdict", list(Verdict))
@pytest.mark.parametrize("flow", [SENDS, LOCAL])
def test_without_untrusted_content_the_table_is_unchanged(verdict: Verdict, flow: ToolFlow) -> None:
    state = TaintState(user_text="hi")
    state.read_private("recall", "bank", "PIN 1234")
    judged = state.judge(
        base(verdict), tool="t", flow=flow, outbound=Outbound(destination="https://x.example/?d=1")
    )
    assert judged.decision == base(verdict) and judged.details == {}


def test_after_untrusted_content_a_send_asks_and_shows_everything() -> None:
    state = TaintState(user_text="summarise https://news.example/a")
    state.enter_untrusted("web_fetch", "https://news.example/a")
    state.read_private("recall", '{"query": "bank"}', {"notes": ["PIN 1234"]})
    state.read_private("files_read", '{"path": "tax.txt"}', {"text": "income 9M"})
    out = Outbound(destination="https://evil.example/c?d=PIN1234", body="income 9M")
    judged = state.judge(base(Verdict.ALLOW), tool="web_fetch", flow=SENDS, outbound=out)
    assert judged.decision.verdict is Verdict.ASK
    for shown in ("https://evil.example/c?d=PIN1234", "income 9M", "PIN 1234", "news.example"):
        assert shown in judged.decision.reason
    assert judged.details["sends_to"] == out.destination
    assert [r["tool"] for r in judged.details["private_reads"]] == ["recall", "files_read"]


def test_a_deny_stays_a_deny_and_a_local_call_is_not_asked() -> None:
    state = TaintState()
    state.enter_untrusted("browser_open", "https://evil.example")
    out = Outbound(destination="https://evil.example/?d=1")
    assert state.judge(base(Verdict.DENY), tool="t", flow=SENDS, outbound=out).decision.verdict is (
        Verdict.DENY
    )
    assert state.judge(base(Verdict.ALLOW), tool="t", flow=LOCAL, outbound=None).decision == base(
        Verdict.ALLOW
    )


@pytest.mark.parametrize(
    ("destination", "asks"),
    [
        ("https://news.example/b", False),  # exactly what the user typed
        ("https://news.example/b?d=PIN", True),  # the typed address with data added
        ("https://news.example/", True),
        ("https://pin1234.news.example/b", True),
        ("https://NEWS.example/b#x", True),
    ],
)
def test_only_exactly_what_the_user_typed_is_exempt(destination: str, asks: bool) -> None:
    state = TaintState(user_text="read https://news.example/a and then https://news.example/b.")
    state.enter_untrusted("web_fetch", "https://news.example/a")
    judged = state.judge(
        base(Verdict.ALLOW),
        tool="web_fetch",
        flow=SENDS,
        outbound=Outbound(destination=destination),
    )
    assert (judged.decision.verdict is Verdict.ASK) is asks


def test_a_typed_address_with_a_body_still_asks() -> None:
    state = TaintState(user_text="fill https://form.example/")
    state.enter_untrusted("browser_open", "https://form.example/")
    out = Outbound(destination="https://form.example/", body="PIN 1234")
    assert state.judge(base(Verdict.ASK), tool="b", flow=SENDS, outbound=out).details["body"]


def test_a_plan_step_carries_the_taint_and_folds_it_back() -> None:
    turn = TaintState(user_text="plan it")
    step = turn.carry()
    assert not step.tainted
    step.enter_untrusted("web_fetch", "https://evil.example")
    step.read_private("recall", "bank", "PIN")
    assert not turn.tainted  # a copy: the step's reads come back only through absorb
    turn.absorb(step)
    assert turn.tainted and turn.private_reads[0].excerpt == "PIN"
    later = turn.carry()
    assert later.tainted, "a later step starts as tainted as the plan"


def test_the_owner_in_private_is_asked_for_a_medium_send_only_when_tainted() -> None:
    table = decide(profile=Profile.PRIVATE, role=Role.OWNER, risk=Risk.MEDIUM, tool="web_fetch")
    assert table.verdict is Verdict.ALLOW
    state = TaintState()
    state.enter_untrusted("message", "from guest friend")
    out = Outbound(destination="https://x.example/")
    assert state.judge(table, tool="web_fetch", flow=SENDS, outbound=out).decision.verdict is (
        Verdict.ASK
    )
