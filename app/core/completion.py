"""What one model call produced, whatever API it went through."""

from __future__ import annotations

from dataclasses import dataclass, field


class ProviderCallError(Exception):
    """One provider failed this call (status, malformed stream...); the pool tries the next."""


@dataclass(frozen=True, kw_only=True)
class ToolCallRequest:
    """One function call the model asked for."""

    call_id: str
    name: str
    arguments: str  # raw JSON text, validated by the registry


@dataclass
class Completion:
    """Filled by a provider adapter as its stream goes."""

    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_reported: bool = False  # False: the tokens are estimated from the text

    def set_tool_calls(self, calls: dict[int, dict[str, str]]) -> None:
        """Tool calls assembled from streamed pieces, in the model's order."""
        self.tool_calls = [
            ToolCallRequest(
                call_id=c["id"] or f"call_{i}", name=c["name"], arguments=c["arguments"] or "{}"
            )
            for i, c in sorted(calls.items())
            if c["name"]
        ]
