"""Words the tray shows for the core's names: tools, risk levels, tool states, who asked.

Each string goes through Qt's translation (context "Wording"), so a Japanese tray never shows
"files_write", "HIGH" or "ok". A tool this table does not know keeps its own name.
"""

from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QCoreApplication

from app.core.usage import UsageTotals
from app.policy.approvals import ApprovalRequest
from app.policy.gate import Role

LOCAL_CHANNELS = ("tray", "terminal")


def _tr(text: object) -> str:
    # QT_TRANSLATE_NOOP only marks a literal for lupdate; the lookup happens here.
    return QCoreApplication.translate("Wording", str(text))


def tool_title(tool: str) -> str:
    """A human name for a tool ("Write a file"), in the tray's language."""
    titles = {
        "files_list": QT_TRANSLATE_NOOP("Wording", "List a folder"),
        "files_read": QT_TRANSLATE_NOOP("Wording", "Read a file"),
        "files_search": QT_TRANSLATE_NOOP("Wording", "Search files"),
        "files_write": QT_TRANSLATE_NOOP("Wording", "Write a file"),
        "files_move": QT_TRANSLATE_NOOP("Wording", "Move or rename a file"),
        "files_delete": QT_TRANSLATE_NOOP("Wording", "Delete a file"),
        "shell": QT_TRANSLATE_NOOP("Wording", "Run a command on the PC"),
        "web_fetch": QT_TRANSLATE_NOOP("Wording", "Fetch a web page"),
        "generate": QT_TRANSLATE_NOOP("Wording", "Draft text"),
        "remember": QT_TRANSLATE_NOOP("Wording", "Remember something"),
        "recall": QT_TRANSLATE_NOOP("Wording", "Look something up in memory"),
        "browser_open": QT_TRANSLATE_NOOP("Wording", "Open a web page"),
        "browser_read": QT_TRANSLATE_NOOP("Wording", "Read the open page"),
        "browser_screenshot": QT_TRANSLATE_NOOP("Wording", "Take a screenshot of the page"),
        "browser_click": QT_TRANSLATE_NOOP("Wording", "Click on the page"),
        "browser_type": QT_TRANSLATE_NOOP("Wording", "Type into the page"),
        "browser_submit": QT_TRANSLATE_NOOP("Wording", "Submit a form"),
    }
    return _tr(titles[tool]) if tool in titles else tool


def risk_name(risk: str) -> str:
    """LOW, MEDIUM, HIGH, CRITICAL as a person says them."""
    names = {
        "LOW": QT_TRANSLATE_NOOP("Wording", "low"),
        "MEDIUM": QT_TRANSLATE_NOOP("Wording", "medium"),
        "HIGH": QT_TRANSLATE_NOOP("Wording", "high"),
        "CRITICAL": QT_TRANSLATE_NOOP("Wording", "critical"),
    }
    return _tr(names[risk]) if risk in names else risk


def tool_state(status: str) -> str:
    """A tool call's state: running, waiting for approval, done, failed, not run, stopped."""
    states = {
        "started": QT_TRANSLATE_NOOP("Wording", "running"),
        "waiting": QT_TRANSLATE_NOOP("Wording", "waiting for approval"),
        "ok": QT_TRANSLATE_NOOP("Wording", "done"),
        "error": QT_TRANSLATE_NOOP("Wording", "failed"),
        "denied": QT_TRANSLATE_NOOP("Wording", "not run"),
        "cancelled": QT_TRANSLATE_NOOP("Wording", "stopped"),
    }
    return _tr(states[status]) if status in states else status


def asked_by(request: ApprovalRequest, device_name: str) -> str:
    """The person who asked and the device by its name ("Asked by a guest on Mika's phone")."""
    owner = request.requester_role is Role.OWNER
    person = _tr(
        QT_TRANSLATE_NOOP("Wording", "you (the owner)")
        if owner
        else QT_TRANSLATE_NOOP("Wording", "a guest")
    )
    if not device_name:
        local = request.channel in LOCAL_CHANNELS
        device_name = _tr(QT_TRANSLATE_NOOP("Wording", "this PC")) if local else request.channel[:8]
    return (
        _tr(QT_TRANSLATE_NOOP("Wording", "Asked by %1 on %2"))
        .replace("%1", person)
        .replace("%2", device_name)
    )


def provider_reason(reason: str, key_ref: str) -> str:
    """Why a provider is on or off, in the tray's language (the core's words are English)."""
    fixed = {
        "local server, no key needed": QT_TRANSLATE_NOOP("Wording", "local server, no key needed"),
        "no key_ref in config.toml for this provider": QT_TRANSLATE_NOOP(
            "Wording", "no key name (key_ref) in config.toml for this provider"
        ),
        "ready": QT_TRANSLATE_NOOP("Wording", "ready"),
        "detected on this PC": QT_TRANSLATE_NOOP("Wording", "detected on this PC"),
    }
    if reason in fixed:
        return _tr(fixed[reason])
    if reason.startswith("no API key stored"):
        return _tr(
            QT_TRANSLATE_NOOP("Wording", "no API key saved yet: enter it below under the name %1")
        ).replace("%1", key_ref)
    return reason


def storage_notice(description: str) -> tuple[str, str]:
    """Where keys are kept, translated, and the file's path apart (the path is not words)."""
    head, _, path = description.partition(": ")
    if description.startswith("OS keyring"):
        kind = description.removeprefix("OS keyring").strip()
        return _tr(QT_TRANSLATE_NOOP("Wording", "the OS keyring %1")).replace("%1", kind), ""
    if "no OS keyring found" in head:
        text = QT_TRANSLATE_NOOP(
            "Wording", "a file only you can read (no OS keyring found on this PC)"
        )
        return _tr(text), path
    if head == "file readable only by you":
        return _tr(QT_TRANSLATE_NOOP("Wording", "a file only you can read")), path
    return description, ""


def usage_line(t: UsageTotals) -> str:
    """One provider's use over the period: calls, failures, tokens and cost."""
    approx = "~" if t.estimated else ""
    text = _tr(QT_TRANSLATE_NOOP("Wording", "%1: %2 calls, %3 failed, %4 in / %5 out tokens, %6"))
    if not t.failures:
        text = _tr(QT_TRANSLATE_NOOP("Wording", "%1: %2 calls, %4 in / %5 out tokens, %6"))
    values = {
        "%1": t.provider,
        "%2": str(t.calls),
        "%3": str(t.failures),
        "%4": f"{approx}{t.prompt_tokens}",
        "%5": f"{approx}{t.completion_tokens}",
        "%6": f"${t.cost_usd:.4f}",
    }
    for mark, value in values.items():
        text = text.replace(mark, value)
    return text
