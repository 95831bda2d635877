"""Any OpenAI-compatible server (vLLM, TGI, llama.cpp server, Ollama) over one pooled aiohttp client.

aiohttp was picked by measurement: it costs a fraction of httpx's CPU per proxied request
(docs/benchmarks.md). Streams are forwarded event by event as they arrive, never buffered.
Redirects are not followed and proxies from the environment are ignored: the only address this engine
ever contacts is the URL in the deployment file.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import orjson

from souverain.config import BackendConfig, Settings
from souverain.engines.base import BackendFailure, Capability, Chunk, Completion, Usage
from souverain.errors import UpstreamRejected

# aiohttp's errors translated once, here: the first class in an exception's MRO found wins.
_FAILURES: dict[type[BaseException], str] = {
    aiohttp.ClientConnectorError: "cannot connect",
    aiohttp.ServerDisconnectedError: "disconnected",
    aiohttp.ClientPayloadError: "response cut short",
    asyncio.TimeoutError: "timed out",
    aiohttp.ClientError: "HTTP error",
    ConnectionError: "connection lost",
}
_RETRYABLE_STATUS = frozenset({408, 429})
_MESSAGE_LIMIT = 500
_LINE_LIMIT = 4 * 1024 * 1024  # one streamed event; a longer line is a broken stream


def _failure(error: BaseException) -> BackendFailure:
    reason = next((_FAILURES[kind] for kind in type(error).__mro__ if kind in _FAILURES), "failed")
    return BackendFailure(reason)


class OpenAIEngine:
    capabilities = frozenset({Capability.CHAT, Capability.EMBEDDINGS})

    def __init__(self, backend: BackendConfig, settings: Settings) -> None:
        assert backend.url is not None  # checked with the deployment file
        self.base_url = backend.url.rstrip("/")
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if backend.api_key_env:
            self.headers["Authorization"] = f"Bearer {os.environ[backend.api_key_env]}"
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=backend.connect_timeout or settings.connect_timeout,
            sock_read=backend.read_timeout or settings.read_timeout,
        )
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=1000, keepalive_timeout=30, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self.timeout,
            headers=self.headers,
            trust_env=False,
            read_bufsize=_LINE_LIMIT,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("engine used before start()")
        return self._session

    async def _post(self, path: str, payload: dict[str, Any]) -> bytes:
        try:
            async with self.session.post(
                self.base_url + path, data=orjson.dumps(payload), allow_redirects=False
            ) as response:
                body = await response.read()
                _raise_for_status(response.status, body)
                return body
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as error:
            raise _failure(error) from None

    async def complete(self, payload: dict[str, Any]) -> Completion:
        body = await self._post("/chat/completions", payload)
        return Completion(body, _usage_of(body))

    async def embed(self, payload: dict[str, Any]) -> Completion:
        body = await self._post("/embeddings", payload)
        return Completion(body, _usage_of(body))

    async def stream(self, payload: dict[str, Any]) -> AsyncGenerator[Chunk, None]:
        try:
            async with self.session.post(
                self.base_url + "/chat/completions", data=orjson.dumps(payload), allow_redirects=False
            ) as response:
                if response.status != 200:
                    _raise_for_status(response.status, await response.read())
                async for lines in _lines(response.content):
                    # Parsed one by one, so the events before a malformed line still reach the caller.
                    last_event = max(
                        (index for index, line in enumerate(lines) if line.lstrip().startswith(b"data:")),
                        default=-1,
                    )
                    for index, line in enumerate(lines):
                        chunk = _parse_event_line(line)
                        if chunk is None:
                            continue
                        if chunk is _DONE:
                            return
                        yield replace(chunk, more_ready=True) if index < last_event else chunk
        except (TimeoutError, aiohttp.ClientError, ConnectionError) as error:
            raise _failure(error) from None
        raise BackendFailure("stream ended without [DONE]")


_DONE = Chunk(b"[DONE]")


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[list[bytes]]:
    """Complete lines as they arrive, grouped by the network read that brought them."""
    pending = b""
    while True:
        data = await content.readany()
        if not data:
            if pending.strip():
                yield [pending]
            return
        *lines, pending = (pending + data).split(b"\n")
        if len(pending) > _LINE_LIMIT:
            raise BackendFailure("malformed event stream: line too long")
        if lines:
            yield lines


def _parse_event_line(line: bytes) -> Chunk | None:
    """One line of a server-sent event stream: a chunk, _DONE, or None for lines that carry nothing."""
    line = line.strip()
    if not line or line.startswith(b":") or line.startswith((b"event:", b"id:", b"retry:")):
        return None
    if not line.startswith(b"data:"):
        raise BackendFailure("malformed event stream")
    data = line[5:].lstrip()
    if data == b"[DONE]":
        return _DONE
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BackendFailure("malformed event stream: data is not JSON") from None
    if not isinstance(event, dict):
        raise BackendFailure("malformed event stream: data is not a JSON object")
    if "error" in event:
        raise BackendFailure("backend reported an error mid-stream")
    usage = Usage.of(event.get("usage"))
    return Chunk(data, usage, usage_only=usage is not None and not event.get("choices"))


def _usage_of(body: bytes) -> Usage:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BackendFailure("response is not JSON") from None
    if not isinstance(document, dict):
        raise BackendFailure("response is not a JSON object")
    return Usage.of(document.get("usage")) or Usage()


def _raise_for_status(status: int, body: bytes) -> None:
    if 200 <= status < 300:
        return
    if status >= 500 or status in _RETRYABLE_STATUS or 300 <= status < 400:
        raise BackendFailure(f"status {status}")
    raise UpstreamRejected(status, _upstream_message(body))


def _upstream_message(body: bytes) -> str:
    """The backend's own explanation of a 4xx, so the caller can fix the request."""
    try:
        error = orjson.loads(body).get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (orjson.JSONDecodeError, AttributeError):
        message = None
    if not isinstance(message, str) or not message:
        message = "the backend rejected the request"
    return "backend: " + message[:_MESSAGE_LIMIT]
