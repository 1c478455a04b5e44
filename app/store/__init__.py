"""Per-profile storage: database, memory, audit chain, secrets."""
