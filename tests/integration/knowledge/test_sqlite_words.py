"""SQLite's full-text query keeps words absent from the store: their absence must not shape a query."""

from __future__ import annotations

from pathlib import Path

from souverain.knowledge.index.sqlite import SqliteIndex
from souverain.store.database import Database


async def test_words_found_nowhere_are_kept(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    try:
        async with database.session() as session:
            kept = await SqliteIndex()._discriminating(session, ["Zorblatt", "budget", "Gerät"])
        # Had absent words been dropped, a tenant could probe which words other tenants' documents hold.
        assert kept == ["zorblatt", "budget", "gerat"]
    finally:
        await database.close()
