"""Search on PostgreSQL: full text on each chunk's `tsvector`, stemmed in its language; vectors by pgvector.

The embedding column has no fixed size (the deployment picks the model), so each size gets its own partial
HNSW index on `embedding::vector(d)`, and queries cast the same way. pgvector 0.6 filters HNSW results
after the scan, so a narrow scope would come back short: narrow scopes are searched exactly instead, and
an approximate search that still comes back short is redone exactly. Scope filters are always in the SQL.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pgvector import Vector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.knowledge.index.base import COMMON_FLOOR, COMMON_SHARE, WORD_COUNTS_SECONDS, Hit, Scope
from souverain.knowledge.languages import POSTGRES_FALLBACK, postgres_text_search, question_words
from souverain.store.models import ChunkRow, CollectionRow, DocumentRow

# pgvector's default and upper bound for hnsw.ef_search: a scan never returns more candidates than that.
_EF_SEARCH_DEFAULT = 40
_EF_SEARCH_MAX = 1000
_EF_SEARCH_MARGIN = 2  # candidates enough to leave this many times `limit` after the scope filter

_SCOPE = (
    "chunks.tenant = :tenant AND chunks.collection_id = ANY(CAST(:collections AS text[])) "
    "AND chunks.classification = ANY(CAST(:levels AS text[]))"
)

# Each chunk was stemmed in its own language, so each of the question's words is stemmed in every language
# of the scope's documents (and the question's), and any of them may match: a name or a number written
# alike across languages is found whatever the question's language. Words that are stop words in the
# question's language are left out. Each term comes back in tsquery's text form, which quotes it so that
# it reads back as the same query.
_TERMS = text(
    "SELECT DISTINCT CAST(term AS text) FROM ("
    "  SELECT plainto_tsquery(config, word) AS term"
    "  FROM unnest(CAST(:words AS text[])) AS word, unnest(CAST(:configs AS regconfig[])) AS config"
    "  WHERE numnode(plainto_tsquery(CAST(:config AS regconfig), word)) > 0"
    ") AS terms WHERE numnode(term) > 0"
)
# ts_rank, not ts_rank_cd: cover density reads every position of every matching row, which cost 127 ms
# of a 164 ms search at 100,000 chunks (bench/knowledge.py); eval/retrieval.py found no loss of quality.
_LEXICAL = text(
    "SELECT chunks.id, ts_rank(chunks.tsv, question.query, 1) AS score "
    "FROM chunks, CAST(:query AS tsquery) AS question(query) "
    f"WHERE chunks.tsv @@ question.query AND {_SCOPE} "
    "ORDER BY score DESC, chunks.id LIMIT :limit"
)
# The share of rows holding each of the most common lexemes, from the planner's statistics (ANALYZE).
_COMMON = text(
    "SELECT CAST(CAST(most_common_elems AS text) AS text[]), most_common_elem_freqs, "
    "(SELECT reltuples FROM pg_class WHERE oid = CAST('chunks' AS regclass)) "
    "FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'chunks' AND attname = 'tsv'"
)
_SINGLE_LEXEME = re.compile(r"'((?:[^']|'')+)'")


@dataclass(frozen=True)
class _Collection:
    """What the index keeps of one collection, as of one version.

    Both only steer the search (which stemmers, exact or HNSW): stale, they cost time, never results.
    """

    version: int
    configs: frozenset[str]  # the text-search configurations of its documents
    chunks: Mapping[str, int]  # how many chunks, by classification level


def _size(dimensions: int) -> int:
    # The size is written into the SQL (a cast's type modifier cannot be a parameter): only an int goes in.
    size = int(dimensions)
    if not 0 < size <= 16_000:  # pgvector's limit for the vector type
        raise ValueError(f"embedding size out of range: {dimensions}")
    return size


class PostgresIndex:
    """`candidate_cost`: what one HNSW candidate costs, in exact distance computations.

    The HNSW index is used where it is expected to fill `limit` after the scope filter and to cost less
    than an exact search of the scope. Measured with 384 floats (2 cores, PostgreSQL 16, pgvector 0.6):
    an exact search costs 0.75 to 2.5 µs per chunk in scope (contiguous or scattered rows), an HNSW scan
    25 to 45 µs per candidate (ef_search 40: 1 ms; 200: 9 ms; 1,000: 41 ms).
    """

    def __init__(self, candidate_cost: float = 25.0) -> None:
        self.candidate_cost = candidate_cost
        self._collections: dict[str, _Collection] = {}
        self._available: frozenset[str] | None = None  # the server's built-in text-search configurations
        self._common_lexemes: dict[str, float] = {}
        self._common_read_at: float | None = None

    async def prepare(self, session: AsyncSession, dimensions: int) -> None:
        size = _size(dimensions)
        # Two processes starting at once would race between IF NOT EXISTS and the insert into pg_class.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('souverain.chunks.hnsw'))"))
        # Partial: vectors of another size (a deployment moving to a new model) stay out of this index
        # instead of failing the cast.
        await session.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS ix_chunks_embedding_{size} ON chunks "
                f"USING hnsw ((embedding::vector({size})) vector_cosine_ops) "
                f"WHERE vector_dims(embedding) = {size}"
            )
        )

    async def added(self, session: AsyncSession, chunks: list[ChunkRow]) -> None:
        ids, configs = [], []
        for chunk in chunks:
            config = await self._text_search(session, chunk.language)
            if config != POSTGRES_FALLBACK:  # the column's default: those rows are already right
                ids.append(chunk.id)
                configs.append(config)
        if not ids:
            return
        # One statement for the whole document; `tsv` is generated from ts_config and recomputed.
        await session.execute(
            text(
                "UPDATE chunks SET ts_config = CAST(given.config AS regconfig) "
                "FROM unnest(CAST(:ids AS bigint[]), CAST(:configs AS text[])) AS given(id, config) "
                "WHERE chunks.id = given.id"
            ),
            {"ids": ids, "configs": configs},
        )

    async def rewritten(self, session: AsyncSession, before: dict[int, str]) -> None:
        return None  # `tsv` is generated from the text: rewriting the text rewrote it

    async def compact(self, session: AsyncSession) -> None:
        return None  # the GIN index forgets dead rows when the table is vacuumed (Database.reclaim)

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        words = question_words(query)
        if not words or limit <= 0 or not scope.collection_ids or not scope.classifications:
            return []
        question = await self._text_search(session, language)
        collections = await self._current(session, scope)
        stemmed_as = frozenset().union(*(collection.configs for collection in collections))
        stemmed_as &= await self._configurations(session)
        parameters = {
            "config": question,
            "configs": [question, *sorted(stemmed_as - {question})],
            "words": words,
        }
        terms = await self._discriminating(session, list(await session.scalars(_TERMS, parameters)))
        if not terms:
            return []
        query_text = " | ".join(f"({term})" for term in terms)
        rows = await session.execute(
            _LEXICAL, _scope_parameters(scope) | {"query": query_text, "limit": limit}
        )
        return [Hit(chunk_id, rank, float(score)) for rank, (chunk_id, score) in enumerate(rows, start=1)]

    async def _discriminating(self, session: AsyncSession, terms: list[str]) -> list[str]:
        """The terms that tell chunks apart: all but the lexemes in most chunks (see COMMON_SHARE),
        whose ranking would cost the most and say the least. A question of common words only keeps its
        two rarest."""
        common = await self._common(session)
        rare = [term for term in terms if _lexeme(term) not in common]
        return rare or sorted(terms, key=lambda term: common.get(_lexeme(term) or "", 0.0))[:2]

    async def _common(self, session: AsyncSession) -> dict[str, float]:
        """Lexemes in more than COMMON_SHARE of the chunks, with their share; re-read once a minute."""
        now = time.monotonic()
        if self._common_read_at is not None and now - self._common_read_at < WORD_COUNTS_SECONDS:
            return self._common_lexemes
        row = (await session.execute(_COMMON)).first()
        common: dict[str, float] = {}
        if row is not None and row[0] is not None:
            lexemes, shares, rows = row
            threshold = max(COMMON_SHARE, COMMON_FLOOR / max(float(rows or 0), 1.0))
            # The shares list ends with three summary figures (min, max, null share): zip stops before.
            pairs = zip(lexemes, shares, strict=False)
            common = {lexeme: share for lexeme, share in pairs if share > threshold}
        self._common_lexemes, self._common_read_at = common, now
        return common

    def forget(self, collection_id: str) -> None:
        self._collections.pop(collection_id, None)

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        if limit <= 0 or not scope.collection_ids or not scope.classifications:
            return []
        size = _size(len(query))
        parameters = _scope_parameters(scope) | {"query": Vector(query).to_text(), "limit": limit}
        collections = await self._current(session, scope)
        scoped = sum(
            collection.chunks.get(level, 0) for collection in collections for level in scope.classifications
        )
        ef_search = await self._ef_search(session, limit, scoped)
        if ef_search is not None:
            # Local to the transaction: the next one starts from the server's setting again.
            await session.execute(
                text("SELECT set_config('hnsw.ef_search', :ef_search, true)"), {"ef_search": str(ef_search)}
            )
            hits = await _nearest(session, size, parameters, approximate=True)
            if len(hits) == limit:
                return hits
        return await _nearest(session, size, parameters, approximate=False)

    async def _ef_search(self, session: AsyncSession, limit: int, scoped: int) -> int | None:
        """Candidates for an HNSW scan to leave about twice `limit` chunks of the scope, assuming them spread
        evenly; None where an exact search costs less, or where no scan would return enough candidates.
        """
        if scoped <= _EF_SEARCH_DEFAULT * self.candidate_cost:
            return None
        table = await session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = CAST('chunks' AS regclass)")
        )
        table = max(float(table or 0), scoped)  # -1 before the first ANALYZE, and always an estimate
        wanted = max(_EF_SEARCH_DEFAULT, math.ceil(_EF_SEARCH_MARGIN * limit * table / scoped))
        if wanted > _EF_SEARCH_MAX or wanted * self.candidate_cost >= scoped:
            return None
        return wanted

    async def _text_search(self, session: AsyncSession, language: str) -> str:
        """The configuration for a language, if this server has it (older PostgreSQL versions lack some)."""
        config = postgres_text_search(language)
        return config if config in await self._configurations(session) else POSTGRES_FALLBACK

    async def _configurations(self, session: AsyncSession) -> frozenset[str]:
        if self._available is None:
            names = await session.scalars(
                text(
                    "SELECT cfgname FROM pg_ts_config WHERE cfgnamespace = CAST('pg_catalog' AS regnamespace)"
                )
            )
            self._available = frozenset(names)
        return self._available

    async def _current(self, session: AsyncSession, scope: Scope) -> list[_Collection]:
        """The scope's collections as they are now, reread from the store when their version changed."""
        rows = await session.execute(
            select(CollectionRow.id, CollectionRow.version).where(
                CollectionRow.tenant == scope.tenant, CollectionRow.id.in_(scope.collection_ids)
            )
        )
        versions = {collection_id: version for collection_id, version in rows}
        stale = [
            id_
            for id_, version in versions.items()
            if id_ not in self._collections or self._collections[id_].version != version
        ]
        if stale:
            self._collections |= await _load(session, scope.tenant, {id_: versions[id_] for id_ in stale})
        return [self._collections[id_] for id_ in versions]


async def _load(session: AsyncSession, tenant: str, versions: dict[str, int]) -> dict[str, _Collection]:
    """Read the collections' document languages and their chunk counts by level."""
    configs: dict[str, set[str]] = {collection_id: set() for collection_id in versions}
    # Chunks take their document's language; documents are far fewer than chunks to read.
    languages = await session.execute(
        select(DocumentRow.collection_id, DocumentRow.language)
        .where(DocumentRow.tenant == tenant, DocumentRow.collection_id.in_(list(versions)))
        .distinct()
    )
    for collection_id, language in languages:
        configs[collection_id].add(postgres_text_search(language))
    chunks: dict[str, Counter[str]] = {collection_id: Counter() for collection_id in versions}
    counts = await session.execute(
        select(ChunkRow.collection_id, ChunkRow.classification, func.count())
        .where(ChunkRow.tenant == tenant, ChunkRow.collection_id.in_(list(versions)))
        .group_by(ChunkRow.collection_id, ChunkRow.classification)
    )
    for collection_id, level, count in counts:
        chunks[collection_id][level] = count
    return {
        collection_id: _Collection(version, frozenset(configs[collection_id]), chunks[collection_id])
        for collection_id, version in versions.items()
    }


def _lexeme(term: str) -> str | None:
    """The lexeme of a one-lexeme term in tsquery's text form ('word'), else None."""
    match = _SINGLE_LEXEME.fullmatch(term)
    return match.group(1).replace("''", "'") if match else None


def _scope_parameters(scope: Scope) -> dict[str, object]:
    return {
        "tenant": scope.tenant,
        "collections": list(scope.collection_ids),
        "levels": list(scope.classifications),
    }


async def _nearest(
    session: AsyncSession, size: int, parameters: dict[str, object], approximate: bool
) -> list[Hit]:
    # The HNSW index is on `embedding::vector(size)`: ordering by that expression lets the planner use it;
    # ordering by the bare column cannot, which makes an exact scan of the scope's rows.
    column = f"embedding::vector({size})" if approximate else "embedding"
    distance = f"{column} <=> CAST(:query AS vector({size}))"
    order = distance if approximate else f"{distance}, chunks.id"
    rows = await session.execute(
        text(
            f"SELECT chunks.id, {distance} AS distance FROM chunks "
            f"WHERE {_SCOPE} AND vector_dims(embedding) = {size} ORDER BY {order} LIMIT :limit"
        ),
        parameters,
    )
    return [
        Hit(chunk_id, rank, 1.0 - float(distance)) for rank, (chunk_id, distance) in enumerate(rows, start=1)
    ]
