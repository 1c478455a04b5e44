"""The one policy gate: allow, ask or deny every tool call from (profile, role, risk, tool).

Defaults:

    profile   role        LOW    MEDIUM  HIGH   CRITICAL
    private   owner       allow  allow   ask    ask
    private   sub-admin   deny   deny    deny   deny      (private is the owner's alone)
    private   guest       deny   deny    deny   deny
    shared    owner       allow  allow   ask    deny
    shared    sub-admin   allow  allow   ask    deny
    shared    guest       allow  ask     ask    deny      (read-mostly; more needs the owner)

Per-tool overrides from config may tighten any cell, and may loosen only LOW and MEDIUM cells:
HIGH and CRITICAL never run without approval, and what the table denies stays denied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Risk(IntEnum):
    """How much harm a tool can do; every tool declares one."""

    LOW = 1  # read, recall
    MEDIUM = 2  # fetch from the web, open a page
    HIGH = 3  # write/delete files, act in a logged-in browser, send anything out
    CRITICAL = 4  # shell, credentials, ORA's own policy


class Role(StrEnum):
    """Who is asking."""

    OWNER = "owner"
    SUB_ADMIN = "sub-admin"
    GUEST = "guest"


class Profile(StrEnum):
    """Which of the owner's separate ORA states is running."""

    PRIVATE = "private"
    SHARED = "shared"


class Verdict(StrEnum):
    """The gate's answer."""

    ALLOW = "allow"
    ASK = "ask"
    DENY = "deny"


_STRICTNESS = {Verdict.ALLOW: 0, Verdict.ASK: 1, Verdict.DENY: 2}

_A, _Q, _D = Verdict.ALLOW, Verdict.ASK, Verdict.DENY
_DEFAULTS: dict[tuple[Profile, Role], tuple[Verdict, Verdict, Verdict, Verdict]] = {
    (Profile.PRIVATE, Role.OWNER): (_A, _A, _Q, _Q),
    (Profile.PRIVATE, Role.SUB_ADMIN): (_D, _D, _D, _D),
    (Profile.PRIVATE, Role.GUEST): (_D, _D, _D, _D),
    (Profile.SHARED, Role.OWNER): (_A, _A, _Q, _D),
    (Profile.SHARED, Role.SUB_ADMIN): (_A, _A, _Q, _D),
    (Profile.SHARED, Role.GUEST): (_A, _Q, _Q, _D),
}


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A verdict and the reason a person (and the model) is told."""

    verdict: Verdict
    reason: str


def default_verdict(profile: Profile, role: Role, risk: Risk) -> Verdict:
    """The table above."""
    return _DEFAULTS[(profile, role)][risk - 1]


def decide(
    *,
    profile: Profile,
    role: Role,
    risk: Risk,
    tool: str,
    overrides: Mapping[str, Verdict] | None = None,
) -> Decision:
    """Decide one call; the reason names the rule that decided it."""
    base = default_verdict(profile, role, risk)
    verdict = base
    override = (overrides or {}).get(tool)
    if override is not None:
        tighter = _STRICTNESS[override] >= _STRICTNESS[base]
        loosenable = risk <= Risk.MEDIUM and base is not Verdict.DENY
        if tighter or loosenable:
            verdict = override
    article = "an" if role.value[0] in "aeiou" else "a"
    who = f"{article} {role.value} in the {profile.value} profile"
    if verdict is Verdict.DENY:
        if base is Verdict.DENY:
            if profile is Profile.PRIVATE and role is not Role.OWNER:
                reason = f"'{tool}' denied: the private profile is for its owner only"
            else:
                reason = f"'{tool}' denied: {risk.name} tools are not allowed for {who}"
        else:
            reason = f"'{tool}' denied by this profile's configuration"
        return Decision(verdict=verdict, reason=reason)
    if verdict is Verdict.ASK:
        return Decision(
            verdict=verdict,
            reason=f"'{tool}' is {risk.name} risk: the owner must approve it for {who}",
        )
    return Decision(verdict=verdict, reason=f"'{tool}' is allowed for {who}")


PRIVATE_IS_OWNER_ONLY = (
    "the private profile is for the owner's own devices only; "
    "share ORA with friends from the shared profile"
)


def pairing_refusal(profile: Profile, role: Role) -> str | None:
    """Why a device of this role may not pair with (or talk to) this profile; None: it may.

    Private means the owner's devices only: a guest there would chat on the owner's provider
    key and see the owner's profile even with every tool denied.
    """
    if profile is Profile.PRIVATE and role is not Role.OWNER:
        return PRIVATE_IS_OWNER_ONLY
    return None
