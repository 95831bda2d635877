"""The FTS5 query constructions that eval/retrieval.py tries with `--lexical-variants` (SQLite only).

Each variant swaps one or two names of souverain's SQLite index for the duration of one lexical search;
nothing here changes what souverain ships.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness import Question

from souverain.knowledge import search as search_module
from souverain.knowledge.index import sqlite as sqlite_index
from souverain.knowledge.index.base import Hit, Scope


async def lexical_with(
    variant: LexicalVariant, knowledge: Any, session: Any, scope: Scope, question: Question, language: str
) -> list[Hit]:
    with patched(variant):
        hits: list[Hit] = await knowledge.index.lexical(
            session, scope, question.question, language, search_module.CANDIDATES
        )
    return hits


@dataclass(frozen=True)
class LexicalVariant:
    """Another lexical query: a builder in place of `sqlite.fts_query` (it gets the question's terms),
    and/or every question word kept instead of only those rare enough to discriminate."""

    build: Callable[[list[str]], str | None] | None = None
    all_words: bool = False


def prefix_query(terms: list[str]) -> str | None:
    """Words of 6+ letters lose their last letter and match as prefixes (verteidigung -> verteidigun*,
    defense -> defens*): a cheap stand-in for the stemmer FTS5 does not have."""
    parts = [f'"{term[:-1]}"*' if len(term) >= 6 else f'"{term}"' for term in terms]
    return " OR ".join(parts) or None


async def _every_word(self: Any, session: Any, words: list[str]) -> list[str]:
    return list(dict.fromkeys(sqlite_index.folded(word) for word in words))


LEXICAL_VARIANTS = {
    "lexical-all-words": LexicalVariant(all_words=True),
    "lexical-prefix": LexicalVariant(build=prefix_query),
}


def applicable_variants() -> dict[str, LexicalVariant]:
    """The variants this version of the SQLite index can take (they patch two of its names)."""
    names = ("fts_query", "folded")
    if not all(hasattr(sqlite_index, name) for name in names):
        print("note: the SQLite index changed; lexical variants skipped", file=sys.stderr)
        return {}
    if not hasattr(sqlite_index.SqliteIndex, "_discriminating"):
        return {name: v for name, v in LEXICAL_VARIANTS.items() if not v.all_words}
    return LEXICAL_VARIANTS


@contextmanager
def patched(variant: LexicalVariant) -> Iterator[None]:
    saved_query = sqlite_index.fts_query
    saved_filter = getattr(sqlite_index.SqliteIndex, "_discriminating", None)
    if variant.build is not None:
        sqlite_index.fts_query = variant.build  # type: ignore[assignment]
    if variant.all_words:
        sqlite_index.SqliteIndex._discriminating = _every_word  # type: ignore[method-assign]
    try:
        yield
    finally:
        sqlite_index.fts_query = saved_query
        if saved_filter is not None:
            sqlite_index.SqliteIndex._discriminating = saved_filter  # type: ignore[method-assign]
