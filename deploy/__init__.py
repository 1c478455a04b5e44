"""ORA's service side as an operator deploys it (compose.yaml) and as it runs here (local.py)."""
