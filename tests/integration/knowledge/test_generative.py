"""Generative answers checked sentence by sentence, and retrieval on /v1/chat/completions.

The model is the fake OpenAI-compatible server on loopback, told what to answer, so the verification is
tested on sentences known to be backed, or not, by the passages.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, start_gateway

GUIDE = """# Carte d'identité
La taxe pour une carte d'identité s'élève à 14 euros pour les adultes.
La nouvelle carte est délivrée dans un délai de dix jours ouvrables.
"""


@pytest.fixture(scope="module")
def model() -> Iterator[FakeBackend]:
    backend = FakeBackend("scripted")
    backend.start_in_thread()
    yield backend
    backend.stop()


@pytest.fixture(scope="module")
def gateway(model: FakeBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    deployment = {
        "site": {"name": "test", "jurisdiction": "LU"},
        "backends": [
            {
                "name": "llm-lu",
                "kind": "openai",
                "url": model.url,
                "models": ["mistral"],
                "jurisdiction": "LU",
            }
        ],
        "tenants": [{"name": "lu-citizens", "residency": ["LU"], "models": ["mistral"]}],
        "knowledge": {"answer_model": "mistral"},
    }
    running = start_gateway(deployment, tmp_path_factory.mktemp("generative"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def headers(gateway: RunningGateway) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {gateway.create_key('lu-citizens')}"}
    assert (
        httpx.post(gateway.api + "/collections", json={"name": "guide"}, headers=headers).status_code == 201
    )
    document = {"text": GUIDE, "title": "Guide", "filename": "guide.md"}
    response = httpx.post(
        gateway.api + "/collections/guide/documents", json=document, headers=headers, timeout=60
    )
    assert response.status_code == 201, response.text
    return headers


def test_each_generated_sentence_is_checked_against_what_it_cites(
    gateway: RunningGateway, headers: dict[str, str], model: FakeBackend
) -> None:
    model.reply = (
        "Une carte d'identité coûte 14 euros pour un adulte [1]. Le passeport est gratuit le dimanche [1]. "
        "Pour un adulte la carte d'identité coûte 30 euros [1]."
    )
    response = httpx.post(
        gateway.api + "/answers",
        json={"question": "Combien coûte la carte d'identité ?", "collections": ["guide"]},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model"] == "mistral" and answer["backend"] == "llm-lu" and answer["jurisdiction"] == "LU"
    supported = {sentence["text"]: sentence["supported"] for sentence in answer["sentences"]}
    assert supported == {
        "Une carte d'identité coûte 14 euros pour un adulte.": True,
        "Le passeport est gratuit le dimanche.": False,  # nothing in the passage says so
        "Pour un adulte la carte d'identité coûte 30 euros.": False,  # the passage says 14
    }
    assert [citation["n"] for citation in answer["citations"]] == [1]
    prompt = model.stats.last_body["messages"][0]["content"]
    assert "[1] Guide" in prompt and "14 euros" in prompt and "Combien coûte la carte" in prompt
    explanation = httpx.get(f"{gateway.api}/answers/{answer['id']}/explanation", headers=headers).json()
    assert explanation["engine"] == "generative" and "{passages}" in explanation["prompt_template"]


def test_chat_completions_with_collections_cite_the_passages(
    gateway: RunningGateway, headers: dict[str, str], model: FakeBackend
) -> None:
    model.reply = "Le délai est de dix jours ouvrables [1]."
    client = openai.OpenAI(base_url=gateway.api, api_key=headers["Authorization"][7:], max_retries=0)
    raw = client.chat.completions.with_raw_response.create(
        model="mistral",
        messages=[{"role": "user", "content": "Quel est le délai pour obtenir la carte ?"}],
        extra_body={"collections": ["guide"]},
    )
    body = raw.http_response.json()
    assert body["choices"][0]["message"]["content"] == model.reply
    assert body["citations"][0]["title"] == "Guide" and "dix jours" in body["citations"][0]["quote"]
    sent = model.stats.last_body
    assert "collections" not in sent
    assert sent["messages"][0]["role"] == "system" and "dix jours" in sent["messages"][0]["content"]


def test_chat_completions_with_an_unknown_collection_is_404(
    gateway: RunningGateway, headers: dict[str, str]
) -> None:
    response = httpx.post(
        gateway.api + "/chat/completions",
        json={"model": "mistral", "messages": [{"role": "user", "content": "x"}], "collections": ["nope"]},
        headers=headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "collections"


def test_a_generated_answer_with_no_supported_sentence_falls_back_to_quotes(
    gateway: RunningGateway, headers: dict[str, str], model: FakeBackend
) -> None:
    model.reply = "Les chats dorment beaucoup. Le ciel est bleu."
    response = httpx.post(
        gateway.api + "/answers",
        json={"question": "Combien coûte la carte d'identité ?", "collections": ["guide"]},
        headers=headers,
        timeout=60,
    )
    answer = response.json()
    assert "14 euros" in answer["answer"] and "chats" not in answer["answer"]
    assert all(sentence["supported"] for sentence in answer["sentences"])
    explanation = httpx.get(f"{gateway.api}/answers/{answer['id']}/explanation", headers=headers).json()
    assert explanation["engine"] == "extractive"
    assert explanation["generative_rejected"]["model"] == "mistral"
