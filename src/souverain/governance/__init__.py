"""Accountability: the audit log, and (as they are built) use cases, human review and usage."""
