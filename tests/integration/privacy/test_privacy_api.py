"""`/v1/privacy/analyze` and `/v1/privacy/anonymize` over HTTP, for any key of a tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.integration.conftest import RunningGateway
from tests.integration.test_admin_api import bearer

TEXT = "Écrire à\u200b jean.dupont@example.lu 🇱🇺, copie à greffe@justice.lu et JEAN.DUPONT@example.lu."


@pytest.fixture
def api(site_with_pii: Callable[[Any], RunningGateway]) -> httpx.Client:
    gateway = site_with_pii({"default": "pseudonymise"})
    key = gateway.create_key("lu-health")
    return httpx.Client(base_url=gateway.api, headers=bearer(key), timeout=60)


def test_analyze_gives_spans_into_the_text_as_sent(api: httpx.Client) -> None:
    response = api.post("/privacy/analyze", json={"text": TEXT, "language": "fr"})
    assert response.status_code == 200
    entities = response.json()["entities"]
    assert [TEXT[item["start"] : item["end"]] for item in entities] == [
        "jean.dupont@example.lu",
        "greffe@justice.lu",
        "JEAN.DUPONT@example.lu",
    ]
    assert set(entities[0]) == {"type", "subtype", "start", "end", "score", "recognizer"}
    assert entities[0]["type"] == "EMAIL" and entities[0]["recognizer"] == "email"


def test_anonymize_follows_the_tenants_policy_by_default(api: httpx.Client) -> None:
    body = api.post("/privacy/anonymize", json={"text": TEXT}).json()
    assert body["text"] == "Écrire à\u200b <EMAIL_1> 🇱🇺, copie à <EMAIL_2> et <EMAIL_1>."
    assert [item["replacement"] for item in body["entities"]] == ["<EMAIL_1>", "<EMAIL_2>", "<EMAIL_1>"]
    assert {item["action"] for item in body["entities"]} == {"pseudonymise"}


def test_anonymize_with_an_action_of_the_callers_choice(api: httpx.Client) -> None:
    body = api.post("/privacy/anonymize", json={"text": TEXT, "action": "mask"}).json()
    assert body["text"] == "Écrire à\u200b <EMAIL> 🇱🇺, copie à <EMAIL> et <EMAIL>."


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "text"),
        ({"text": 12}, "text"),
        ({"text": "x", "language": "french"}, "language"),
        ({"text": "x", "action": "block"}, "action"),
        ({"text": "x", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api: httpx.Client, body: dict[str, Any], param: str) -> None:
    response = api.post("/privacy/anonymize", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_texts_empty_large_and_too_large(api: httpx.Client) -> None:
    assert api.post("/privacy/analyze", json={"text": ""}).json() == {"entities": []}
    large = ("Un texte ordinaire, sans rien de personnel. " * 20_000 + "a@example.lu ") * 4  # 3.5 MB
    response = api.post("/privacy/anonymize", json={"text": large, "action": "mask"})
    assert response.status_code == 200 and len(response.json()["entities"]) == 4
    too_large = api.post("/privacy/analyze", json={"text": "x" * 10 * 1024 * 1024})
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "request_too_large"


def test_a_key_is_needed(api: httpx.Client) -> None:
    response = httpx.post(str(api.base_url).rstrip("/") + "/privacy/analyze", json={"text": "x"})
    assert response.status_code == 401


def test_anonymize_under_a_policy_that_blocks_names_the_type_only(
    site_with_pii: Callable[[Any], RunningGateway],
) -> None:
    gateway = site_with_pii({"email": "block"})
    # The site's first analysis loads its spaCy pipelines: longer than httpx's 5 seconds on a busy machine.
    client = httpx.Client(base_url=gateway.api, headers=bearer(gateway.create_key("lu-health")), timeout=60)
    response = client.post("/privacy/anonymize", json={"text": TEXT})
    assert response.status_code == 403
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("personal_data_blocked", "text") and "EMAIL" in error[
        "message"
    ]
    assert "example" not in response.text
    masked = client.post("/privacy/anonymize", json={"text": TEXT, "action": "mask"})
    assert masked.status_code == 200  # an action given is the caller's preview, not the policy
