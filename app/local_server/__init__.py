"""The Node's embedded HTTP server on this PC (loopback only unless the owner opts in)."""
