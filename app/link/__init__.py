"""The Node's link to the Relay: identity, paired devices, end-to-end sessions (Qt-free)."""
