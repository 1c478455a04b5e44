"""The ORA Relay: pairing, tokens, routing of end-to-end-encrypted frames, metadata-only audit."""
