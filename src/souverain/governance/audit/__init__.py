"""The tamper-evident audit log: typed events appended to a SHA-256 hash chain in the store."""
