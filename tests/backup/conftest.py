"""A real Relay process for the backup tests."""

from tests.relay.conftest import relay_factory  # noqa: F401
