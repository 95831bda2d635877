"""SQLite's choice of query words: absent words are kept; the counts behind the choice follow the store."""

from __future__ import annotations

from pathlib import Path

from souverain.knowledge.index.base import Scope
from souverain.knowledge.index.sqlite import SqliteIndex
from souverain.store.database import Database
from tests.integration.knowledge.test_index_contract import (
    HEALTH,
    UP_TO_INTERNAL,
    library_for,
    random_unit_vectors,
)


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


async def test_a_word_that_becomes_common_is_left_out_at_the_next_question(tmp_path: Path) -> None:
    # Word counts are kept between questions (reading them costs milliseconds at scale); added chunks
    # must still count at once, or a word now in most chunks would go on making the search rank them all.
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    try:
        index = SqliteIndex()
        library = await library_for(database, index, 64)
        collection_id = await library.collection()
        scope = Scope(HEALTH, (collection_id,), UP_TO_INTERNAL)
        _, first = await library.document(
            collection_id, ["Die Verwaltung zahlt das Kindergeld aus."], random_unit_vectors(1, 64, 1), ["de"]
        )
        async with database.session() as session:
            assert await index._discriminating(session, ["Verwaltung", "Kindergeld"]) == [
                "verwaltung",
                "kindergeld",
            ]
        texts = [f"Die Verwaltung bearbeitet Vorgang {number}." for number in range(150)]
        await library.document(collection_id, texts, random_unit_vectors(150, 64, 2), ["de"] * 150)
        async with database.session() as session:
            assert await index._discriminating(session, ["Verwaltung", "Kindergeld"]) == ["kindergeld"]
        assert [hit.chunk_id for hit in await library.lexical(scope, "Verwaltung Kindergeld", "de")] == first
    finally:
        await database.close()
