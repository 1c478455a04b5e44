"""Every (profile, role, risk) cell of the policy gate, and what config overrides may change."""

import itertools

import pytest

from app.policy.gate import Profile, Risk, Role, Verdict, decide

A, Q, D = Verdict.ALLOW, Verdict.ASK, Verdict.DENY
# The seed's defaults, written out independently of the implementation's table.
EXPECTED = {
    (Profile.PRIVATE, Role.OWNER): {Risk.LOW: A, Risk.MEDIUM: A, Risk.HIGH: Q, Risk.CRITICAL: Q},
    (Profile.PRIVATE, Role.SUB_ADMIN): {
        Risk.LOW: D,
        Risk.MEDIUM: D,
        Risk.HIGH: D,
        Risk.CRITICAL: D,
    },
    (Profile.PRIVATE, Role.GUEST): {Risk.LOW: D, Risk.MEDIUM: D, Risk.HIGH: D, Risk.CRITICAL: D},
    (Profile.SHARED, Role.OWNER): {Risk.LOW: A, Risk.MEDIUM: A, Risk.HIGH: Q, Risk.CRITICAL: D},
    (Profile.SHARED, Role.SUB_ADMIN): {Risk.LOW: A, Risk.MEDIUM: A, Risk.HIGH: Q, Risk.CRITICAL: D},
    (Profile.SHARED, Role.GUEST): {Risk.LOW: A, Risk.MEDIUM: Q, Risk.HIGH: Q, Risk.CRITICAL: D},
}
CELLS = list(itertools.product(Profile, Role, Risk))


@pytest.mark.parametrize(("profile", "role", "risk"), CELLS)
def test_every_cell_matches_the_seed(profile: Profile, role: Role, risk: Risk) -> None:
    decision = decide(profile=profile, role=role, risk=risk, tool="t")
    assert decision.verdict is EXPECTED[(profile, role)][risk]
    assert "'t'" in decision.reason


def test_high_and_above_never_run_without_approval_by_default() -> None:
    for profile, role, risk in CELLS:
        if risk >= Risk.HIGH:
            assert decide(profile=profile, role=role, risk=risk, tool="t").verdict is not A


@pytest.mark.parametrize(("profile", "role", "risk"), CELLS)
@pytest.mark.parametrize("override", list(Verdict))
def test_overrides_tighten_anything_and_loosen_only_low_and_medium(
    profile: Profile, role: Role, risk: Risk, override: Verdict
) -> None:
    base = EXPECTED[(profile, role)][risk]
    got = decide(profile=profile, role=role, risk=risk, tool="t", overrides={"t": override}).verdict
    order = {A: 0, Q: 1, D: 2}
    if order[override] >= order[base] or (risk <= Risk.MEDIUM and base is not D):
        assert got is override
    else:
        assert got is base, "a config override must not loosen HIGH/CRITICAL or a denial"


def test_override_applies_only_to_its_tool() -> None:
    d = decide(
        profile=Profile.PRIVATE, role=Role.OWNER, risk=Risk.LOW, tool="other", overrides={"t": D}
    )
    assert d.verdict is A


def test_reasons_say_why() -> None:
    d = decide(profile=Profile.SHARED, role=Role.GUEST, risk=Risk.CRITICAL, tool="shell")
    assert "CRITICAL" in d.reason and "guest" in d.reason
    d = decide(profile=Profile.PRIVATE, role=Role.GUEST, risk=Risk.LOW, tool="recall")
    assert "owner only" in d.reason
