"""The registry checks every built-in tool's schema, and refuses arguments that do not fit."""

from __future__ import annotations

import pytest

from app.tools.registry import InvalidArguments, ToolRegistry, builtin_tools


def test_every_builtin_schema_is_valid() -> None:
    # Schemas are checked before a tool's first call rather than at start (the first answer
    # does not wait for jsonschema); this keeps a bad built-in schema from ever shipping.
    registry = ToolRegistry(builtin_tools())
    assert registry.all()
    for tool in registry.all():
        registry.validator(tool.name)


def test_arguments_that_do_not_fit_are_refused_by_name() -> None:
    registry = ToolRegistry(builtin_tools())
    tool = next(t for t in registry.all() if t.parameters.get("required"))
    with pytest.raises(InvalidArguments, match="required"):
        registry.parse_arguments(tool.name, "{}")
    with pytest.raises(InvalidArguments, match="not valid JSON"):
        registry.parse_arguments(tool.name, "{nope")
