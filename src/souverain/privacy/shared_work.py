"""Work the recognizers share while one text is analysed, forgotten when that analysis ends.

The identifier and bank-number recognizers cut the same text into the same tokens; the first does it,
the second reuses it. A cache across calls would do the same and keep the last texts, personal data
and all, in the server's memory for as long as no other text came: here nothing of a text outlives
its analysis.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar, cast

T = TypeVar("T")

_current: ContextVar[dict[Hashable, object] | None] = ContextVar("souverain_privacy_shared", default=None)


@contextmanager
def one_analysis() -> Iterator[None]:
    """Within this block, `shared` computes each result once; after it, every result is dropped."""
    token = _current.set({})
    try:
        yield
    finally:
        _current.reset(token)


def shared(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, computed once per analysis for `key` (outside an analysis, every time)."""
    results = _current.get()
    if results is None:
        return compute()
    if key not in results:
        results[key] = compute()
    return cast(T, results[key])
