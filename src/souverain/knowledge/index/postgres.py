"""Search on PostgreSQL: full text on each chunk's `tsvector`, stemmed in its language; vectors by pgvector.

The embedding column has no fixed size (the deployment picks the model), so each size gets its own partial
HNSW index on `embedding::vector(d)`, and queries cast the same way. pgvector 0.6 filters HNSW results
after the scan, so a narrow scope would come back short: small scopes are searched exactly instead, and
an approximate search that comes back short is redone exactly. Scope filters are always in the SQL.
"""

from __future__ import annotations

import math
import re

import numpy as np
from pgvector import Vector
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.knowledge.index.base import Hit, Scope
from souverain.knowledge.languages import POSTGRES_FALLBACK, postgres_text_search
from souverain.store.models import ChunkRow, CollectionRow, DocumentRow

_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_TERMS = 64
# pgvector's bounds for hnsw.ef_search; without iterative scans (0.8+) no scan returns more rows.
_EF_SEARCH_DEFAULT = 40
_EF_SEARCH_MAX = 1000

_SCOPE = (
    "chunks.tenant = :tenant AND chunks.collection_id = ANY(CAST(:collections AS text[])) "
    "AND chunks.classification = ANY(CAST(:levels AS text[]))"
)

# Each chunk was stemmed in its own language, so each of the question's words is stemmed in every language
# of the scope's documents (and the question's), and any of them may match: a name or a number written
# alike across languages is found whatever the question's language. Words that are stop words in the
# question's language are left out. PostgreSQL has no OR aggregate for tsquery: the terms are joined
# through their text form, which tsquery's output quotes so that it reads back as the same query.
_LEXICAL = text(
    "SELECT chunks.id, ts_rank_cd(chunks.tsv, question.query, 1) AS score "
    "FROM chunks, ("
    "  SELECT CAST(string_agg(DISTINCT '(' || CAST(term AS text) || ')', ' | ') AS tsquery) AS query FROM ("
    "    SELECT plainto_tsquery(config, word) AS term"
    "    FROM unnest(CAST(:words AS text[])) AS word, unnest(CAST(:configs AS regconfig[])) AS config"
    "    WHERE numnode(plainto_tsquery(CAST(:config AS regconfig), word)) > 0"
    "  ) AS terms WHERE numnode(term) > 0"
    ") AS question "
    f"WHERE chunks.tsv @@ question.query AND {_SCOPE} "
    "ORDER BY score DESC, chunks.id LIMIT :limit"
)

# At most `:cap` rows are counted: past the exact-search threshold the exact number does not matter.
_SCOPE_SIZE = text(
    f"SELECT (SELECT count(*) FROM (SELECT 1 FROM chunks WHERE {_SCOPE} LIMIT :cap) AS scoped), "
    "(SELECT reltuples FROM pg_class WHERE oid = CAST('chunks' AS regclass))"
)


def question_words(query: str) -> list[str]:
    """The question's distinct words, lower-cased, longest questions cut to the first 64."""
    words: list[str] = []
    for word in _WORD.findall(query.lower()):
        if len(word) > 1 and word not in words:
            words.append(word)
            if len(words) == _MAX_TERMS:
                break
    return words


def _size(dimensions: int) -> int:
    # The size is written into the SQL (a cast's type modifier cannot be a parameter): only an int goes in.
    size = int(dimensions)
    if not 0 < size <= 16_000:  # pgvector's limit for the vector type
        raise ValueError(f"embedding size out of range: {dimensions}")
    return size


class PostgresIndex:
    """`exact_below`: scopes with at most this many chunks are searched exactly, without the HNSW index."""

    def __init__(self, exact_below: int = 10_000) -> None:
        self.exact_below = exact_below
        # collection id -> (its version, the text-search configurations of its documents)
        self._configs: dict[str, tuple[int, frozenset[str]]] = {}

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
            config = postgres_text_search(chunk.language)
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

    async def lexical(
        self, session: AsyncSession, scope: Scope, query: str, language: str, limit: int
    ) -> list[Hit]:
        words = question_words(query)
        if not words or limit <= 0 or not scope.collection_ids or not scope.classifications:
            return []
        question = postgres_text_search(language)
        configs = [question, *sorted(await self._scope_configs(session, scope) - {question})]
        parameters = _scope_parameters(scope) | {
            "config": question,
            "configs": configs,
            "words": words,
            "limit": limit,
        }
        rows = await session.execute(_LEXICAL, parameters)
        return [Hit(chunk_id, rank, float(score)) for rank, (chunk_id, score) in enumerate(rows, start=1)]

    async def vector(self, session: AsyncSession, scope: Scope, query: np.ndarray, limit: int) -> list[Hit]:
        if limit <= 0 or not scope.collection_ids or not scope.classifications:
            return []
        size = _size(len(query))
        parameters = _scope_parameters(scope) | {"query": Vector(query).to_text(), "limit": limit}
        if limit <= _EF_SEARCH_MAX:
            sizes = await session.execute(
                _SCOPE_SIZE, _scope_parameters(scope) | {"cap": self.exact_below + 1}
            )
            scoped, table = sizes.one()
            if scoped > self.exact_below:
                await session.execute(
                    text("SELECT set_config('hnsw.ef_search', :ef_search, true)"),
                    {"ef_search": str(_ef_search(limit, scoped, table))},
                )
                hits = await _nearest(session, size, parameters, approximate=True)
                if len(hits) == limit:
                    return hits
        return await _nearest(session, size, parameters, approximate=False)

    async def _scope_configs(self, session: AsyncSession, scope: Scope) -> frozenset[str]:
        """The configurations the scope's chunks were stemmed with, reread when a collection changes."""
        rows = await session.execute(
            select(CollectionRow.id, CollectionRow.version).where(
                CollectionRow.tenant == scope.tenant, CollectionRow.id.in_(scope.collection_ids)
            )
        )
        versions = {collection_id: version for collection_id, version in rows}
        stale = [id_ for id_, version in versions.items() if self._configs.get(id_, (None,))[0] != version]
        if stale:
            # Chunks take their document's language; documents are far fewer than chunks to read.
            found: dict[str, set[str]] = {id_: set() for id_ in stale}
            languages = await session.execute(
                select(DocumentRow.collection_id, DocumentRow.language)
                .where(DocumentRow.collection_id.in_(stale))
                .distinct()
            )
            for collection_id, language in languages:
                found[collection_id].add(postgres_text_search(language))
            self._configs |= {id_: (versions[id_], frozenset(found[id_])) for id_ in stale}
        return frozenset().union(*(self._configs[id_][1] for id_ in versions))


def _scope_parameters(scope: Scope) -> dict[str, object]:
    return {
        "tenant": scope.tenant,
        "collections": list(scope.collection_ids),
        "levels": list(scope.classifications),
    }


def _ef_search(limit: int, scoped: int, table: float) -> int:
    """Candidates for the HNSW scan so that, after the scope filter, about twice `limit` rows remain."""
    if table < scoped:  # never analysed (-1), or stale statistics: assume the scope is a small part
        return _EF_SEARCH_MAX
    wanted = math.ceil(2 * limit * table / scoped)
    return min(_EF_SEARCH_MAX, max(_EF_SEARCH_DEFAULT, limit, wanted))


async def _nearest(
    session: AsyncSession, size: int, parameters: dict[str, object], approximate: bool
) -> list[Hit]:
    # The HNSW index is on `embedding::vector(size)`: ordering by that expression lets the planner use it;
    # ordering by the bare column cannot, which makes an exact scan of the scope's rows.
    column = f"embedding::vector({size})" if approximate else "embedding"
    rows = await session.execute(
        text(
            f"SELECT chunks.id, {column} <=> CAST(:query AS vector({size})) AS distance FROM chunks "
            f"WHERE {_SCOPE} AND vector_dims(embedding) = {size} "
            f"ORDER BY {column} <=> CAST(:query AS vector({size})) "
            f"{'' if approximate else ', chunks.id '}LIMIT :limit"
        ),
        parameters,
    )
    return [
        Hit(chunk_id, rank, 1.0 - float(distance)) for rank, (chunk_id, distance) in enumerate(rows, start=1)
    ]
