"""Policy: the gate that decides every tool call and the broker for owner approvals."""
