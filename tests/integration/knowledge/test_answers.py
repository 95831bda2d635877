"""Answers with citations a person can check, abstention, and explanations, over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import RunningGateway, start_gateway

PROCEDURE = """# Demande de carte d'identité

La demande de carte d'identité se fait à la commune de résidence.
Le demandeur présente une photo récente et l'ancienne carte.
La nouvelle carte est délivrée dans un délai de dix jours ouvrables.
La taxe s'élève à 14 euros pour les adultes.

# Passeport

Le passeport biométrique est demandé auprès du Bureau des passeports.
Il est valable dix ans pour les adultes et cinq ans pour les mineurs.
"""


TRIAGE = {
    "name": "claim-triage",
    "purpose": "Answer caseworkers from the procedures.",
    "legal_basis": "GDPR art. 6(1)(e)",
    "risk": "high",
    "annex_iii": "essential_services",
    "owner": "Guichet",
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    deployment = {
        "site": {"name": "test", "jurisdiction": "LU"},
        "tenants": [{"name": "lu-citizens", "residency": ["LU"], "models": [], "use_cases": [TRIAGE]}],
    }
    running = start_gateway(deployment, tmp_path_factory.mktemp("answers"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def headers(gateway: RunningGateway) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {gateway.create_key('lu-citizens')}"}
    assert httpx.post(gateway.api + "/collections", json={"name": "faq"}, headers=headers).status_code == 201
    document = {"text": PROCEDURE, "title": "Guichet citoyen", "filename": "guichet.md"}
    uploaded = httpx.post(
        gateway.api + "/collections/faq/documents", json=document, headers=headers, timeout=60
    )
    assert uploaded.status_code == 201, uploaded.text
    return headers


def ask(gateway: RunningGateway, headers: dict[str, str], question: str) -> dict[str, Any]:
    response = httpx.post(
        gateway.api + "/answers",
        json={"question": question, "collections": ["faq"]},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    # Marked as AI-generated like every output: a program chose the quoted sentences.
    assert (response.headers["x-ai-generated"], response.headers["x-ai-model"]) == ("true", "extractive")
    body: dict[str, Any] = response.json()
    assert body["souverain"]["ai_generated"] is True and body["souverain"]["model"] == "extractive"
    return body


def test_extractive_answer_quotes_the_document_with_citations(
    gateway: RunningGateway, headers: dict[str, str]
) -> None:
    answer = ask(gateway, headers, "Combien coûte une carte d'identité pour un adulte ?")
    assert not answer["abstained"]
    assert "14 euros" in answer["answer"]
    assert answer["citations"] and answer["sentences"]
    assert all(sentence["supported"] for sentence in answer["sentences"])
    # Each quote is verbatim at its span in the document's extracted text.
    document_id = answer["citations"][0]["document_id"]
    chunks = httpx.get(f"{gateway.api}/documents/{document_id}/chunks", headers=headers).json()["data"]
    for citation in answer["citations"]:
        assert citation["title"] == "Guichet citoyen"
        holder = next(chunk for chunk in chunks if chunk["start"] <= citation["start"] < chunk["end"])
        offset = citation["start"] - holder["start"]
        assert holder["text"][offset : offset + len(citation["quote"])] == citation["quote"]
        assert citation["end"] - citation["start"] == len(citation["quote"])
        assert f"[{citation['n']}]" in answer["answer"]


def test_a_question_in_another_language_is_answered_from_the_french_text(
    gateway: RunningGateway, headers: dict[str, str]
) -> None:
    answer = ask(gateway, headers, "How long is a passport valid for adults?")
    assert not answer["abstained"]
    assert "dix ans" in answer["answer"]


def test_nothing_relevant_abstains(gateway: RunningGateway, headers: dict[str, str]) -> None:
    answer = ask(gateway, headers, "Quelle est la recette de la tarte aux mirabelles ?")
    assert answer["abstained"]
    assert answer["citations"] == []
    assert answer["answer"]


def test_explanation_shows_retrievers_ranks_and_verification(
    gateway: RunningGateway, headers: dict[str, str]
) -> None:
    answer = ask(gateway, headers, "Où demander un passeport biométrique ?")
    response = httpx.get(f"{gateway.api}/answers/{answer['id']}/explanation", headers=headers)
    assert response.status_code == 200
    explanation = response.json()
    assert explanation["engine"] == "extractive"
    kept = [candidate for candidate in explanation["candidates"] if candidate["kept"]]
    assert kept and all("vector_rank" in candidate for candidate in kept)
    assert explanation["sentences"] and all("supported" in sentence for sentence in explanation["sentences"])
    assert explanation["thresholds"]["relevant"] > 0

    other = {"Authorization": f"Bearer {gateway.create_key('lu-citizens', 'member')}"}
    assert httpx.get(f"{gateway.api}/answers/{answer['id']}/explanation", headers=other).status_code == 200
    assert httpx.get(f"{gateway.api}/answers/ans-unknown/explanation", headers=other).status_code == 404


def test_an_answer_of_a_reviewed_use_case_waits_for_its_reviewer(
    gateway: RunningGateway, headers: dict[str, str]
) -> None:
    bound = {"Authorization": f"Bearer {gateway.create_key('lu-citizens', use_case='claim-triage')}"}
    question = {"question": "Combien coûte une carte d'identité pour un adulte ?", "collections": ["faq"]}
    response = httpx.post(gateway.api + "/answers", json=question, headers=bound, timeout=60)
    assert response.status_code == 202, response.text
    review = response.json()["souverain"]["review"]
    assert response.json()["object"] == "review" and "answer" not in response.json()

    reviewer = {"Authorization": f"Bearer {gateway.create_key('lu-citizens', 'reviewer')}"}
    waiting = httpx.get(f"{gateway.api}/reviews/{review['id']}", headers=reviewer).json()
    assert waiting["endpoint"] == "answers" and waiting["request"] == question["question"]
    assert "14 euros" in waiting["output"]["answer"]
    decided = httpx.post(
        f"{gateway.api}/reviews/{review['id']}/decision", json={"decision": "approve"}, headers=reviewer
    )
    assert decided.status_code == 200, decided.text
    released = httpx.get(gateway.url + review["result_url"], headers=bound)
    assert released.status_code == 200 and "14 euros" in released.json()["answer"]
    assert released.json()["souverain"]["review"]["decision"] == "approved"
