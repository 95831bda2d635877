"""Collections, documents and hybrid search over HTTP, as a ministry's application would use them."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
import pytest

from tests.integration.conftest import RunningGateway

LAW = """# Loi sur l'aide au logement

## Article 1
Toute personne résidant au Luxembourg depuis au moins six mois peut demander une aide au logement.

## Article 2
La demande est introduite auprès du ministère du Logement avec un certificat de résidence.
Le délai de traitement est de trente jours ouvrables.
"""

CIRCULAR = """Die Schulpflicht beginnt im Alter von vier Jahren. Eltern melden ihr Kind bei der Gemeinde an.
Die Anmeldung muss vor dem 1. Juli erfolgen."""


def deployment(**knowledge: Any) -> dict[str, Any]:
    return {
        "site": {"name": "test", "jurisdiction": "LU"},
        "tenants": [
            {"name": "lu-housing", "residency": ["LU"], "models": [], "max_classification": "RESTRICTED"},
            {"name": "lu-education", "residency": ["LU"], "models": []},
        ],
        "knowledge": knowledge,
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.integration.conftest import start_gateway

    running = start_gateway(deployment(), tmp_path_factory.mktemp("knowledge"))
    yield running
    running.stop()


class Client:
    def __init__(self, gateway: RunningGateway, tenant: str, clearance: str | None = None) -> None:
        self.url = gateway.api
        self.headers = {"Authorization": f"Bearer {gateway.create_key(tenant, 'member', clearance)}"}

    def post(self, path: str, **options: Any) -> httpx.Response:
        return httpx.post(self.url + path, headers=self.headers, timeout=60, **options)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers=self.headers, timeout=60)

    def delete(self, path: str) -> httpx.Response:
        return httpx.delete(self.url + path, headers=self.headers, timeout=60)

    def search(self, query: str, collections: list[str], **options: Any) -> httpx.Response:
        return self.post("/search", json={"query": query, "collections": collections, **options})


@pytest.fixture(scope="module")
def housing(gateway: RunningGateway) -> Client:
    client = Client(gateway, "lu-housing", "RESTRICTED")
    assert client.post("/collections", json={"name": "laws"}).status_code == 201
    uploaded = client.post(
        "/collections/laws/documents", json={"text": LAW, "title": "Loi logement", "filename": "loi.md"}
    )
    assert uploaded.status_code == 201, uploaded.text
    return client


def test_upload_search_and_citations(housing: Client) -> None:
    response = housing.search("Quel est le délai de traitement d'une demande ?", ["laws"])
    assert response.status_code == 200, response.text
    best = response.json()["data"][0]
    assert "trente jours" in best["text"]
    assert best["title"] == "Loi logement"
    assert best["heading"] == "Article 2"
    assert best["lexical_rank"] is not None and best["vector_rank"] is not None
    # The span points into the document's extracted text: the chunk lists agree with it.
    chunks = housing.get(f"/documents/{best['document_id']}/chunks").json()["data"]
    assert any(chunk["start"] == best["start"] and chunk["text"] == best["text"] for chunk in chunks)


def test_cross_lingual_question_finds_the_french_passage(housing: Client) -> None:
    hits = housing.search("How long does it take to process a housing aid application?", ["laws"]).json()[
        "data"
    ]
    assert "trente jours" in hits[0]["text"]


def test_a_multipart_file_and_the_same_bytes_again(housing: Client) -> None:
    files = {"file": ("schule.txt", CIRCULAR.encode(), "text/plain")}
    first = housing.post("/collections/laws/documents", files=files, data={"metadata": '{"source": "MENJE"}'})
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "added" and first.json()["language"] == "de"
    assert first.json()["metadata"] == {"source": "MENJE"}
    again = housing.post("/collections/laws/documents", files=files)
    assert again.json()["status"] == "unchanged"
    assert again.json()["id"] == first.json()["id"]


def test_concurrent_uploads_of_one_file_make_one_document(housing: Client) -> None:
    body = {"text": "Une circulaire envoyée deux fois en même temps. " * 20, "title": "Double"}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: housing.post("/collections/laws/documents", json=body), range(4)))
    assert all(response.status_code == 201 for response in responses), [r.text for r in responses]
    assert len({response.json()["id"] for response in responses}) == 1
    titles = [document["title"] for document in housing.get("/collections/laws/documents").json()["data"]]
    assert titles.count("Double") == 1


def test_another_tenant_sees_nothing(gateway: RunningGateway, housing: Client) -> None:
    education = Client(gateway, "lu-education")
    response = education.search("aide au logement", ["laws"])
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "collections"
    document_id = housing.search("aide au logement", ["laws"]).json()["data"][0]["document_id"]
    assert education.get(f"/documents/{document_id}").status_code == 404


def test_clearance_filters_in_the_search(gateway: RunningGateway, housing: Client) -> None:
    secret = {
        "text": "Le budget confidentiel du logement social est de 42 millions.",
        "classification": "RESTRICTED",
    }
    assert housing.post("/collections/laws/documents", json=secret).status_code == 201
    public = Client(gateway, "lu-housing", "PUBLIC")
    hits = public.search("budget confidentiel du logement social", ["laws"]).json()["data"]
    assert all("42 millions" not in hit["text"] for hit in hits)
    hits = housing.search("budget confidentiel du logement social", ["laws"]).json()["data"]
    assert "42 millions" in hits[0]["text"]


def test_a_deleted_document_leaves_search(housing: Client) -> None:
    created = housing.post("/collections/laws/documents", json={"text": "Le formulaire Z-99 est aboli."})
    document_id = created.json()["id"]
    assert housing.search("formulaire Z-99", ["laws"]).json()["data"][0]["document_id"] == document_id
    assert housing.delete(f"/documents/{document_id}").status_code == 204
    hits = housing.search("formulaire Z-99", ["laws"]).json()["data"]
    assert all(hit["document_id"] != document_id for hit in hits)
    assert housing.get(f"/documents/{document_id}").status_code == 404


@pytest.mark.parametrize(
    ("query", "param"),
    [("", "query"), ("   ", "query"), ("x" * 100_000, "query")],
    ids=["empty", "blank", "100KB"],
)
def test_bad_queries_are_400(housing: Client, query: str, param: str) -> None:
    response = housing.search(query, ["laws"])
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_hostile_queries_answer(housing: Client) -> None:
    for query in ['"', "*", "AND OR NOT", "'; DROP TABLE chunks; --", "Gerät ∑ 🤖", "NEAR(a b)"]:
        assert housing.search(query, ["laws"]).status_code == 200, query


@pytest.mark.parametrize(
    ("files", "code"),
    [
        ({"file": ("empty.txt", b"", "text/plain")}, "empty_document"),
        ({"file": ("image.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")}, "unsupported_media_type"),
        ({"file": ("broken.pdf", b"%PDF-1.7 garbage", "application/pdf")}, "corrupt_document"),
    ],
)
def test_bad_files_are_refused_clearly(housing: Client, files: dict[str, Any], code: str) -> None:
    response = housing.post("/collections/laws/documents", files=files)
    assert response.status_code in (400, 413, 415), response.text
    assert response.json()["error"]["code"] == code


def test_collections_listing_and_conflicts(housing: Client) -> None:
    assert housing.post("/collections", json={"name": "laws"}).status_code == 409
    listing = housing.get("/collections").json()["data"]
    laws = next(collection for collection in listing if collection["name"] == "laws")
    assert laws["documents"] >= 2


def test_collection_delete(gateway: RunningGateway) -> None:
    client = Client(gateway, "lu-education")
    assert client.post("/collections", json={"name": "tmp"}).status_code == 201
    client.post("/collections/tmp/documents", json={"text": "Texte éphémère sur les écoles."})
    assert client.delete("/collections/tmp").status_code == 204
    assert client.search("écoles", ["tmp"]).status_code == 404
