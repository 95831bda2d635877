"""Registered use cases: declared in the deployment file or through the admin API, bound to keys, named
in every event a bound key causes, and enforced on each call."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from souverain.config import parse_deployment
from souverain.engines.registry import kind_infos
from souverain.governance.audit.log import AuditLog, stored_records
from souverain.store.database import Database
from souverain.tenancy.tenants import sync_tenants
from souverain.tenancy.usecases import UseCaseService
from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment
from tests.integration.governance.records import logged_bodies
from tests.integration.served import souverain
from tests.integration.test_admin_api import bearer

TRIAGE = {
    "name": "benefit-triage",
    "purpose": "Sort incoming benefit claims by urgency for a caseworker.",
    "legal_basis": "Loi du 28 juillet 2018, art. 4; GDPR art. 6(1)(e)",
    "risk": "high",
    "annex_iii": "essential_services",
    "owner": "Caisse nationale, service des prestations",
    "models": ["m"],
}
FAQ = {
    "name": "citizen-faq",
    "purpose": "Answer citizens' questions about opening hours and forms.",
    "legal_basis": "GDPR art. 6(1)(e)",
    "risk": "limited",
    "owner": "Guichet.lu",
    "models": ["m"],
}
MESSAGES = [{"role": "user", "content": "Which form do I need?"}]


def deployment(lu_url: str, fr_url: str, *use_cases: dict[str, Any]) -> dict[str, Any]:
    raw = two_site_deployment(lu_url, fr_url)
    raw["backends"][0]["models"] = ["m", "other"]
    raw["tenants"][0] |= {"models": ["m", "other"], "use_cases": list(use_cases)}
    return raw


def events(gateway: RunningGateway) -> list[dict[str, Any]]:
    found, _ = logged_bodies(gateway.settings.sqlalchemy_url())
    return found


@pytest.fixture
def site(
    gateway_factory: Callable[..., RunningGateway], fake_lu: FakeBackend, fake_fr: FakeBackend
) -> RunningGateway:
    return gateway_factory(deployment(fake_lu.url, fake_fr.url, FAQ))


def test_a_bound_keys_calls_name_its_use_case_and_keep_to_its_models(site: RunningGateway) -> None:
    key = site.create_key("lu-health", use_case="citizen-faq")
    answered = httpx.post(
        site.api + "/chat/completions", json={"model": "m", "messages": MESSAGES}, headers=bearer(key)
    )
    assert answered.status_code == 200, answered.text
    refused = httpx.post(
        site.api + "/chat/completions", json={"model": "other", "messages": MESSAGES}, headers=bearer(key)
    )
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("model_not_allowed", "model")
    assert "citizen-faq" in error["message"]

    recorded = events(site)
    calls = [event for event in recorded if event["kind"] == "model_call"]
    assert [(call["use_case"], call["status"]) for call in calls] == [
        ("citizen-faq", "ok"),
        ("citizen-faq", "model_not_allowed"),
    ]
    declared, created = [event for event in recorded if event["kind"] == "admin_action"]
    assert (declared["action"], declared["target"], declared["principal"]) == (
        "use_case.declare",
        "citizen-faq",
        "deployment",
    )
    assert created["action"] == "key.create" and "use_case:citizen-faq" in created["details"]


def test_a_key_cannot_be_bound_to_an_unknown_use_case(site: RunningGateway) -> None:
    admin = site.create_key("lu-health", "admin")
    response = httpx.post(
        site.url + "/admin/keys", json={"role": "member", "use_case": "nope"}, headers=bearer(admin)
    )
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "use_case"


def test_an_admin_registers_lists_and_retires_a_use_case(site: RunningGateway) -> None:
    admin = site.create_key("lu-health", "admin")
    url = site.url + "/admin/use-cases"
    created = httpx.post(url, json=TRIAGE, headers=bearer(admin))
    assert created.status_code == 201, created.text
    case = created.json()
    assert (case["tenant"], case["source"], case["human_review_required"]) == ("lu-health", "api", True)

    listed = httpx.get(url, headers=bearer(admin)).json()["data"]
    assert {(case["name"], case["source"]) for case in listed} == {
        ("citizen-faq", "deployment"),
        ("benefit-triage", "api"),
    }
    again = httpx.post(url, json=TRIAGE, headers=bearer(admin))
    assert again.status_code == 409

    bound = httpx.post(
        site.url + "/admin/keys", json={"role": "member", "use_case": "benefit-triage"}, headers=bearer(admin)
    ).json()
    assert bound["use_case"] == "benefit-triage"
    retired = httpx.delete(url + "/benefit-triage", headers=bearer(admin))
    assert retired.status_code == 200 and retired.json()["retired_at"] is not None
    call = httpx.post(
        site.api + "/chat/completions",
        json={"model": "m", "messages": MESSAGES},
        headers=bearer(bound["key"]),
    )
    assert call.status_code == 403 and call.json()["error"]["code"] == "use_case_retired"

    assert httpx.delete(url + "/citizen-faq", headers=bearer(admin)).status_code == 409  # from the file
    assert [case["name"] for case in httpx.get(url, headers=bearer(admin)).json()["data"]] == ["citizen-faq"]
    everything = httpx.get(url, params={"retired": "true"}, headers=bearer(admin)).json()["data"]
    assert len(everything) == 2
    actions = [event["action"] for event in events(site) if event["kind"] == "admin_action"]
    assert actions[-3:] == ["use_case.register", "key.create", "use_case.retire"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"annex_iii": None}, "annex_iii"),
        ({"human_review": False}, "human_review"),
        ({"annex_iii": "astrology"}, "annex_iii"),
        ({"risk": "unacceptable"}, "risk"),
        ({"models": ["not-the-tenants"]}, "models[0]"),
        ({"purpose": ""}, "purpose"),
        ({"name": "Has Spaces"}, "name"),
    ],
)
def test_a_use_case_breaking_the_rules_is_refused_naming_the_field(
    site: RunningGateway, change: dict[str, Any], param: str
) -> None:
    admin = site.create_key("lu-health", "admin")
    response = httpx.post(site.url + "/admin/use-cases", json=TRIAGE | change, headers=bearer(admin))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert param in (error["param"] or "") or param in error["message"], error


def test_members_cannot_register_use_cases(site: RunningGateway) -> None:
    member = site.create_key("lu-health")
    response = httpx.post(site.url + "/admin/use-cases", json=TRIAGE, headers=bearer(member))
    assert response.status_code == 403


async def test_the_register_follows_the_deployment_file(database: Database, audit: AuditLog) -> None:
    def parsed(*use_cases: dict[str, Any]) -> Any:
        return parse_deployment(
            deployment("http://a:1/v1", "http://b:1/v1", *use_cases), "test", kind_infos()
        )

    first = parsed(FAQ, TRIAGE)
    await sync_tenants(database, first)
    await UseCaseService(database, first, audit).sync()
    await UseCaseService(database, first, audit).sync()  # the same file again changes nothing
    second = parsed(FAQ | {"owner": "Guichet.lu, front office"})
    await UseCaseService(database, second, audit).sync()

    register = UseCaseService(database, second, audit)
    assert [case.name for case in await register.list("lu-health")] == ["citizen-faq"]
    assert (await register.get("lu-health", "citizen-faq")).spec.owner == "Guichet.lu, front office"
    retired = await register.get("lu-health", "benefit-triage")
    assert retired.retired_at is not None and retired.spec.reviewed
    await audit.close()
    actions = [
        (event["action"], event["target"])
        async for record in stored_records(database)
        if (event := orjson.loads(record.body))["kind"] == "admin_action"
    ]
    assert actions == [
        ("use_case.declare", "citizen-faq"),
        ("use_case.declare", "benefit-triage"),
        ("use_case.update", "citizen-faq"),
        ("use_case.retire", "benefit-triage"),
    ]


def test_the_register_report_documents_each_use_case(tmp_path: Path) -> None:
    config = tmp_path / "deployment.yaml"
    raw = deployment("http://10.0.0.5:8000/v1", "http://10.0.0.6:8000/v1", FAQ, TRIAGE)
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    data = tmp_path / "data"
    created = souverain(
        "keys", "create", "--tenant", "lu-health", "--role", "member", "--use-case", "benefit-triage",
        "--config", str(config), data_dir=data,
    )  # fmt: skip
    assert created.returncode == 0 and "use case benefit-triage" in created.stdout, created.stderr

    as_json = souverain("usecases", "report", "--format", "json", "--config", str(config), data_dir=data)
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["in_force_by_risk"] == {"limited": 1, "high": 1}
    triage = next(entry for entry in document["use_cases"] if entry["name"] == "benefit-triage")
    assert triage["human_review"] is True and triage["active_keys"] == 1
    assert triage["legal_basis"] == TRIAGE["legal_basis"]
    # Served in LU and FR, but the tenant's residency admits LU only.
    assert triage["models"] == [{"model": "m", "processed_in": ["LU"]}]

    written = tmp_path / "register.md"
    as_markdown = souverain(
        "usecases", "report", "--output", str(written), "--config", str(config), data_dir=data
    )
    assert as_markdown.returncode == 0, as_markdown.stderr
    text = written.read_text(encoding="utf-8")
    assert "## lu-health / benefit-triage" in text and str(TRIAGE["purpose"]) in text
    assert "Annex III area 5. Access to essential private and public services and benefits" in text

    unknown = souverain("keys", "create", "--tenant", "lu-health", "--role", "member", "--use-case", "nope",
                        "--config", str(config), data_dir=data)  # fmt: skip
    assert unknown.returncode == 1 and "no use case 'nope'" in unknown.stderr
