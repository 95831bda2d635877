"""Long texts are analysed in a worker thread: one long paste must not hold up every other request on the
event loop, and below the threshold a thread costs more than the analysis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

THREAD_ABOVE = 32 * 1024  # characters


async def analysed(chars: int, analysis: Callable[[], T]) -> T:
    """What `analysis` returns, run in a worker thread when it reads more than THREAD_ABOVE characters."""
    if chars > THREAD_ABOVE:
        return await asyncio.to_thread(analysis)
    return analysis()
