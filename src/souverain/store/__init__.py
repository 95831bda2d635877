"""Persistence: SQLAlchemy models, repositories and migrations, on SQLite or PostgreSQL."""
