"""One router per group of endpoints: OpenAI-compatible, admin, operations."""
