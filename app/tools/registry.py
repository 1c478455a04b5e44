"""The tool registry: tools by name, with arguments checked against each tool's JSON schema.

jsonschema (with attrs, referencing and its bundled metaschemas) is a large share of the core's
import time, and nothing needs it before the first tool call: it is imported then, not at
start, so the first answer does not wait for it. Each schema is still checked before its tool
is first run, and tests/tools check every built-in schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from app.tools.spec import ToolSpec

if TYPE_CHECKING:
    import jsonschema.protocols


class InvalidArguments(Exception):
    """The arguments a model (or a command) gave do not fit the tool's schema."""


class ToolRegistry:
    """Every tool the assistant may call in this profile."""

    def __init__(self, tools: Iterable[ToolSpec] = ()) -> None:
        self._tools: dict[str, ToolSpec] = {}
        self._validators: dict[str, jsonschema.protocols.Validator] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: ToolSpec) -> None:
        """Register a tool; its schema is checked before its first call (`validator`)."""
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        self._tools[tool.name] = tool

    def validator(self, name: str) -> jsonschema.protocols.Validator:
        """The tool's argument checker; raises jsonschema's SchemaError if its schema is bad."""
        checker = self._validators.get(name)
        if checker is None:
            import jsonschema

            parameters = self._tools[name].parameters
            cls = jsonschema.validators.validator_for(parameters)
            cls.check_schema(parameters)
            checker = self._validators[name] = cls(parameters)
        return checker

    def get(self, name: str) -> ToolSpec | None:
        """A tool by name."""
        return self._tools.get(name)

    def all(self) -> list[ToolSpec]:
        """All tools, by name."""
        return [self._tools[n] for n in sorted(self._tools)]

    def parse_arguments(self, name: str, raw: str | dict[str, Any]) -> dict[str, Any]:
        """Decode and validate arguments; any problem is an InvalidArguments naming it."""
        if isinstance(raw, str):
            try:
                args = json.loads(raw or "{}")
            except json.JSONDecodeError as err:
                raise InvalidArguments(f"arguments are not valid JSON: {err.msg}") from None
        else:
            args = raw
        if not isinstance(args, dict):
            raise InvalidArguments("arguments must be a JSON object")
        import jsonschema

        error = jsonschema.exceptions.best_match(self.validator(name).iter_errors(args))
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(arguments)"
            raise InvalidArguments(f"{where}: {error.message}")
        return args

    def schemas(self) -> list[dict[str, Any]]:
        """Function-calling descriptions for the model."""
        return [t.openai_schema() for t in self.all()]


def builtin_tools() -> list[ToolSpec]:
    """The tools every profile has."""
    from app.tools import browser, files, generate, memory, shell, web_fetch

    return [
        *memory.tools(),
        *files.tools(),
        *web_fetch.tools(),
        *browser.tools(),
        *generate.tools(),
        *shell.tools(),
    ]
