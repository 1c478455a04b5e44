"""Tools the assistant can call, each with a declared risk."""
