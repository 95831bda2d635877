"""Searches, answers and document changes through `souverain serve`, on both stores, seen in the audit log:
each recorded by the time its response arrives, refusals with their code, and never the words themselves."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from typing import Any

import httpx
import openai
import orjson
import pytest
from sqlalchemy import make_url

from souverain.governance.audit.events import ContentHasher
from souverain.governance.audit.keys import audit_key
from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway
from tests.integration.governance.records import logged

# Words that must never reach the log: a person's name in the title, the file name and the text.
TITLE = "Recours de Jean Dupont"
FILENAME = "recours-dupont.md"
TEXT = """# Recours

Le recours de Marguerite Schrobiltgen contre la décision du ministère du Logement a été reçu.
Le délai de recours est de trois mois à compter de la notification de la décision.
"""
NAMES = ("Dupont", "Schrobiltgen")
QUESTION = "Quel est le délai du recours de Madame Schrobiltgen ?"


@pytest.fixture
def site(
    fake_lu: FakeBackend, gateway_factory: Callable[..., RunningGateway], database_url: str
) -> RunningGateway:
    deployment = {
        "site": {"name": "test", "jurisdiction": "LU"},
        "backends": [
            {"name": "llm-lu", "kind": "openai", "url": fake_lu.url, "models": ["m"], "jurisdiction": "LU"}
        ],
        "tenants": [
            {"name": "lu-housing", "residency": ["LU"], "models": ["m"], "max_classification": "RESTRICTED"}
        ],
    }
    return gateway_factory(deployment, database_url=database_url)


class Client:
    def __init__(self, site: RunningGateway, role: str = "member", clearance: str | None = None) -> None:
        self.url = site.api
        self.key = site.create_key("lu-housing", role, clearance)

    def send(self, method: str, path: str, **options: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} | options.pop("headers", {})
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **options)

    def upload(self, collection: str = "recours", **document: Any) -> httpx.Response:
        body = {"text": TEXT, "title": TITLE, "filename": FILENAME} | document
        return self.send("POST", f"/collections/{collection}/documents", json=body)


def bodies(site: RunningGateway, kind: str) -> list[dict[str, Any]]:
    """The records of one kind, as hashed; and, checked on the way, the whole log: intact and nameless."""
    every, fault = logged(site.settings.sqlalchemy_url())
    assert fault is None, fault
    for record in every:
        assert not any(name.lower() in record.body.lower() for name in NAMES), record.body
    return [orjson.loads(record.body) for record in every if record.kind == kind]


def keyed(site: RunningGateway, text: str) -> str:
    return ContentHasher(audit_key(site.settings))(text.encode())


def test_document_changes_are_recorded_without_titles_or_file_names(site: RunningGateway) -> None:
    client = Client(site, clearance="RESTRICTED")
    assert client.send("POST", "/collections", json={"name": "recours"}).status_code == 201
    added = client.upload(classification="INTERNAL")
    assert added.status_code == 201, added.text
    again = client.upload()  # the same bytes: one document, recorded as no change
    assert again.json()["status"] == "unchanged"
    document_id = added.json()["id"]
    assert client.send("DELETE", f"/documents/{document_id}").status_code == 204
    assert client.upload().status_code == 201
    assert client.send("DELETE", "/collections/recours").status_code == 204

    changes = bodies(site, "document_change")
    assert [(change["action"], change["documents"]) for change in changes] == [
        ("collection.create", 0),
        ("document.upload", 1),
        ("document.upload", 0),
        ("document.delete", 1),
        ("document.upload", 1),
        ("collection.delete", 1),
    ]
    created, upload, unchanged, deleted, _, dropped = changes
    assert all(change["status"] == "ok" and change["collection"] == "recours" for change in changes)
    assert all(change["principal"] != "cli" and change["role"] == "member" for change in changes)
    assert created["classification"] == "PUBLIC" and created["document_id"] is None
    content = hashlib.sha256(TEXT.encode()).hexdigest()
    assert (upload["document_id"], upload["content_sha256"]) == (document_id, content)
    assert (upload["classification"], upload["size_bytes"]) == ("INTERNAL", len(TEXT.encode()))
    assert upload["chunks"] == added.json()["chunks"] > 0
    assert (unchanged["document_id"], unchanged["chunks"]) == (document_id, 0)
    assert (deleted["document_id"], deleted["content_sha256"]) == (document_id, content)
    assert deleted["chunks"] == upload["chunks"] and deleted["classification"] == "INTERNAL"
    assert dropped["chunks"] == upload["chunks"]
    assert not any("title" in change or "filename" in change for change in changes)


def test_searches_and_answers_are_recorded_with_keyed_hashes(
    site: RunningGateway, fake_lu: FakeBackend
) -> None:
    client = Client(site)
    assert client.send("POST", "/collections", json={"name": "recours"}).status_code == 201
    assert client.upload().status_code == 201
    found = client.send("POST", "/search", json={"query": QUESTION, "collections": ["recours"], "limit": 3})
    assert found.status_code == 200, found.text
    answered = client.send("POST", "/answers", json={"question": QUESTION, "collections": ["recours"]})
    answer = answered.json()
    assert answered.status_code == 200 and not answer["abstained"], answered.text
    fake_lu.reply = "Le délai de recours est de trois mois [1]."
    generated = client.send(
        "POST", "/answers", json={"question": QUESTION, "collections": ["recours"], "model": "m"}
    )
    assert generated.status_code == 200, generated.text
    chat = openai.OpenAI(base_url=site.api, api_key=client.key, max_retries=0)
    chat.chat.completions.create(
        model="m", messages=[{"role": "user", "content": QUESTION}], extra_body={"collections": ["recours"]}
    )

    searched, grounded = bodies(site, "search")
    assert (searched["endpoint"], searched["status"], searched["decisions"]) == ("search", "ok", [])
    assert (searched["collections"], searched["classification"]) == (["recours"], "PUBLIC")
    assert searched["chunk_ids"] == [hit["chunk_id"] for hit in found.json()["data"]]
    assert searched["results"] == len(found.json()["data"]) > 0 and searched["latency_ms"] > 0
    assert searched["query_hash"] == keyed(site, QUESTION)
    assert searched["use_case"] is None and searched["role"] == "member"
    assert grounded["endpoint"] == "chat" and grounded["query_hash"] == keyed(site, QUESTION)
    assert grounded["chunk_ids"] and grounded["status"] == "ok"
    answer_call, chat_call = bodies(site, "model_call")
    assert answer_call["status"] == chat_call["status"] == "ok"

    recorded, written = bodies(site, "answer")
    explanation = client.send("GET", f"/answers/{answer['id']}/explanation").json()
    assert (recorded["answer_id"], recorded["status"]) == (answer["id"], "ok")
    assert (recorded["model"], recorded["backend"], recorded["model_call"]) == ("extractive", None, None)
    assert recorded["chunk_ids"] == [citation["chunk_id"] for citation in explanation["citations"]]
    assert recorded["question_hash"] == keyed(site, QUESTION)
    assert recorded["answer_hash"] == keyed(site, answer["answer"])
    assert recorded["abstained"] is False and recorded["collections"] == ["recours"]
    # A generative answer names its model's call, which has its own record.
    assert (written["answer_id"], written["model"]) == (generated.json()["id"], "m")
    assert (written["backend"], written["jurisdiction"]) == ("llm-lu", "LU")
    assert written["model_call"] == answer_call["seq"] and written["decisions"] == []
    assert written["answer_hash"] == keyed(site, generated.json()["answer"])


def test_refusals_are_recorded_with_their_code_and_bad_input_is_not(site: RunningGateway) -> None:
    client = Client(site)  # cleared for PUBLIC only
    assert client.send("POST", "/collections", json={"name": "recours"}).status_code == 201
    refused = {
        "classification_violation": [
            client.send(
                "POST",
                "/search",
                json={"query": QUESTION, "collections": ["recours"]},
                headers={"X-Classification": "RESTRICTED"},
            ),
            client.upload(classification="RESTRICTED"),
        ],
        "not_found": [
            client.send("POST", "/search", json={"query": QUESTION, "collections": ["nowhere"]}),
            client.send("POST", "/answers", json={"question": QUESTION, "collections": ["nowhere"]}),
            client.send("DELETE", "/documents/0123456789abcdef"),
            client.upload("nowhere"),
        ],
        "role_not_allowed": [
            Client(site, "auditor").send(
                "POST", "/search", json={"query": QUESTION, "collections": ["recours"]}
            )
        ],
    }
    for code, responses in refused.items():
        assert all(response.json()["error"]["code"] == code for response in responses), code
    # Bad input, which nothing was done with: no record.
    assert client.send("POST", "/search", json={"query": " ", "collections": ["recours"]}).status_code == 400
    assert client.send("POST", "/collections", json={"name": "recours"}).status_code == 409

    searches = bodies(site, "search")
    assert [(search["status"], search["collections"]) for search in searches] == [
        ("classification_violation", ["recours"]),
        ("not_found", ["nowhere"]),
        ("role_not_allowed", ["recours"]),
    ]
    assert all(search["decisions"] == [f"refused:{search['status']}"] for search in searches)
    assert searches[0]["classification"] == "RESTRICTED" and searches[2]["role"] == "auditor"
    (answer,) = bodies(site, "answer")
    assert (answer["status"], answer["answer_id"], answer["answer_hash"]) == ("not_found", None, None)
    changes = [
        (change["action"], change["status"], change["collection"], change["document_id"])
        for change in bodies(site, "document_change")
    ]
    assert changes == [
        ("collection.create", "ok", "recours", None),
        ("document.upload", "classification_violation", "recours", None),
        ("document.delete", "not_found", None, "0123456789abcdef"),
        ("document.upload", "not_found", "nowhere", None),
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_nothing_is_answered_unrecorded_when_the_log_cannot_write(site: RunningGateway) -> None:
    client = Client(site)
    assert client.send("POST", "/collections", json={"name": "recours"}).status_code == 201
    store = sqlite3.connect(str(make_url(site.settings.sqlalchemy_url()).database))
    store.execute("ALTER TABLE audit_records RENAME TO audit_records_away")
    store.commit()
    try:
        for response in (
            client.send("POST", "/search", json={"query": QUESTION, "collections": ["recours"]}),
            client.send("POST", "/answers", json={"question": QUESTION, "collections": ["recours"]}),
            client.upload(),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "audit_unavailable"
    finally:
        store.execute("ALTER TABLE audit_records_away RENAME TO audit_records")
        store.commit()
        store.close()
    assert [change["action"] for change in bodies(site, "document_change")] == ["collection.create"]
    assert bodies(site, "search") == bodies(site, "answer") == []
