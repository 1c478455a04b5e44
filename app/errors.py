"""User-facing errors of the Node, with messages a person can act on."""


class OraError(Exception):
    """Base of the Node's errors."""


class ConfigError(OraError):
    """The profile's configuration file is wrong; the message names the file, key and line."""


class SecretStoreError(OraError):
    """Secrets could not be read or written."""


class ProviderError(OraError):
    """No model provider could answer."""


class PairingRefused(OraError):
    """This profile does not pair devices of that role (a guest on the private profile)."""
