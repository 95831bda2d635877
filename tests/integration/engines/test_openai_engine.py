"""The OpenAI-compatible engine against odd but real server behaviour, over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from souverain.config import BackendConfig, Settings
from souverain.engines.base import BackendFailure, Chunk
from souverain.engines.openai import OpenAIEngine


def event(content: str) -> bytes:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": content}}]}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


@pytest.fixture
async def server() -> AsyncIterator[dict[str, bytes]]:
    bodies: dict[str, bytes] = {}

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(bodies["body"])  # everything in one write: one network read downstream
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    bodies["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}/v1".encode()
    yield bodies
    await runner.cleanup()


async def collect(bodies: dict[str, bytes], body: bytes) -> tuple[list[Chunk], BackendFailure | None]:
    bodies["body"] = body
    engine = OpenAIEngine(
        BackendConfig(name="b", kind="openai", url=bodies["url"].decode(), models=["m"], jurisdiction="LU"),
        Settings(),
    )
    await engine.start()
    chunks: list[Chunk] = []
    try:
        async for chunk in engine.stream({"model": "m", "messages": [], "stream": True}):
            chunks.append(chunk)
    except BackendFailure as failure:
        return chunks, failure
    finally:
        await engine.close()
    return chunks, None


async def test_events_before_a_malformed_line_in_the_same_read_still_arrive(server: dict[str, bytes]) -> None:
    chunks, failure = await collect(server, event("a") + event("b") + b"not an event\n\n" + event("c"))
    assert [orjson.loads(chunk.data)["choices"][0]["delta"]["content"] for chunk in chunks] == ["a", "b"]
    assert failure is not None and "malformed" in str(failure)


async def test_events_of_one_read_are_marked_to_leave_together(server: dict[str, bytes]) -> None:
    chunks, failure = await collect(server, event("a") + event("b") + event("c") + b"data: [DONE]\n\n")
    assert failure is None
    assert [chunk.more_ready for chunk in chunks] == [True, True, True]


async def test_a_stream_without_done_is_a_failure(server: dict[str, bytes]) -> None:
    chunks, failure = await collect(server, event("a"))
    assert len(chunks) == 1
    assert failure is not None and "[DONE]" in str(failure)
