"""`POST /v1/privacy/subjects/export` and `/erase` over HTTP: for admin keys only, limited to the key's
clearance for what is handed over, errors that name the field and never echo the value."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.integration.conftest import RunningGateway
from tests.integration.test_admin_api import assert_error, bearer

MARIE = "marie.schmit@example.lu"
DEPLOYMENT = {
    "site": {"name": "test", "jurisdiction": "LU"},
    "tenants": [{"name": "lu-health", "residency": ["LU"], "models": []}],
}


def upload(gateway: RunningGateway, key: str, text: str, classification: str = "PUBLIC") -> str:
    response = httpx.post(
        gateway.api + "/collections/c/documents",
        json={"text": text, "classification": classification},
        headers=bearer(key),
        timeout=60,
    )
    assert response.status_code == 201, response.text
    document_id: str = response.json()["id"]
    return document_id


def test_an_admin_exports_then_erases_a_person(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(DEPLOYMENT)
    admin = gateway.create_key("lu-health", role="admin", clearance="INTERNAL")
    secret_writer = gateway.create_key("lu-health", role="admin", clearance="SECRET")
    member = gateway.create_key("lu-health")
    assert (
        httpx.post(gateway.api + "/collections", json={"name": "c"}, headers=bearer(admin)).status_code == 201
    )
    public = upload(gateway, admin, f"Le recours de {MARIE} est en cours d'instruction.")
    upload(gateway, secret_writer, f"Note confidentielle: {MARIE} a été entendue.", "SECRET")
    upload(gateway, admin, "Le guichet est ouvert le lundi.")
    url = gateway.api + "/privacy/subjects"

    assert_error(httpx.post(url + "/export", json={"subject": MARIE}, headers=bearer(member)), 403)
    exported = httpx.post(url + "/export", json={"subject": MARIE.upper()}, headers=bearer(admin), timeout=30)
    assert exported.status_code == 200, exported.text
    found = exported.json()
    assert [document["id"] for document in found["documents"]] == [public]
    assert found["counts"]["withheld"] == 1  # the SECRET note: above this key's clearance

    erased = httpx.post(url + "/erase", json={"subject": MARIE}, headers=bearer(admin), timeout=60)
    assert erased.status_code == 200, erased.text
    certificate = erased.json()
    assert certificate["mode"] == "delete" and len(certificate["documents"]["deleted"]) == 2
    assert MARIE not in erased.text
    hits = httpx.post(
        gateway.api + "/search",
        json={"query": "recours instruction", "collections": ["c"]},
        headers=bearer(admin),
    ).json()["data"]
    assert not any(MARIE in hit["text"] for hit in hits)


def test_bad_requests_name_the_field_and_never_echo_it(
    gateway_factory: Callable[..., RunningGateway],
) -> None:
    gateway = gateway_factory(DEPLOYMENT)
    admin = bearer(gateway.create_key("lu-health", role="admin"))
    url = gateway.api + "/privacy/subjects"
    for body in ({"subject": ""}, {"subject": "  \u200b "}, {"subject": MARIE * 100}, {}):
        response = httpx.post(url + "/export", json=body, headers=admin)
        assert assert_error(response, 400)["param"] == "subject"
        assert MARIE not in response.text
    wrong_mode = httpx.post(url + "/erase", json={"subject": MARIE, "mode": "shred"}, headers=admin)
    assert assert_error(wrong_mode, 400)["param"] == "mode"
    assert MARIE not in wrong_mode.text
