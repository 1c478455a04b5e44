"""The tool registry: tools by name, with arguments checked against each tool's JSON schema."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jsonschema

from app.tools.spec import ToolSpec


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
        """Register a tool; its schema must itself be valid."""
        if tool.name in self._tools:
            raise ValueError(f"tool {tool.name!r} registered twice")
        cls = jsonschema.validators.validator_for(tool.parameters)
        cls.check_schema(tool.parameters)
        self._tools[tool.name] = tool
        self._validators[tool.name] = cls(tool.parameters)

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
        error = jsonschema.exceptions.best_match(self._validators[name].iter_errors(args))
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
