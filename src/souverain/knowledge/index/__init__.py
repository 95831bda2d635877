"""Search indexes behind one protocol: full text and vectors, on SQLite or PostgreSQL."""
