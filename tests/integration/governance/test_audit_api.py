"""The audit API as a tenant's auditor uses it over HTTP, on both stores: its tenant's records only,
searched by every filter a page at a time, exported signed for a third party, the chain verified, and
each of these reads itself recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import update

from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.export import verify_lines
from souverain.governance.audit.signing import load_public, public_pem, signing_key
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow
from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment
from tests.integration.governance.records import append_events
from tests.integration.governance.test_audit_cli import run as souverain_audit
from tests.integration.test_admin_api import assert_error, bearer

OTHER_PRINCIPAL = "k-eve-of-eu-research"  # what a lu-health auditor must never see


def call(
    tenant: str, principal: str, decision: str, status: str = "ok", use_case: str | None = None
) -> ModelCall:
    return ModelCall(
        tenant=tenant,
        principal=principal,
        role="member",
        use_case=use_case,
        status=status,
        endpoint="chat",
        model="m",
        classification="PUBLIC",
        decisions=(decision,),
    )


EARLIER = [
    call("lu-health", "k-alice", "route:fake-lu", use_case="citizen-faq"),
    call("eu-research", OTHER_PRINCIPAL, "route:fake-fr", use_case="citizen-faq"),
    call("lu-health", "k-alice", "refused:classification_violation", "classification_violation"),
    call("lu-health", "k-bob", "route:fake_lu"),  # `_` is a LIKE wildcard: it must match itself only
    call("eu-research", OTHER_PRINCIPAL, "refused:residency_violation", "residency_violation"),
]
LATER = [
    call("lu-health", "k-bob", "refused:residency_violation", "residency_violation", "benefit-triage"),
    call("eu-research", OTHER_PRINCIPAL, "route:fake-lu"),
]


@pytest.fixture
def site(
    fake_lu: FakeBackend,
    fake_fr: FakeBackend,
    gateway_factory: Callable[..., RunningGateway],
    database_url: str,
) -> RunningGateway:
    return gateway_factory(two_site_deployment(fake_lu.url, fake_fr.url), database_url=database_url)


def seed(gateway: RunningGateway, events: list[Event]) -> None:
    """Records written beside the running server, as another server process of the site would."""

    async def write() -> None:
        database = Database(gateway.settings.sqlalchemy_url())
        try:
            await append_events(database, events, gateway.deployment.site.name)
        finally:
            await database.close()

    asyncio.run(write())


def seeded_in_two_periods(gateway: RunningGateway) -> datetime:
    """EARLIER, then LATER; returns a moment between them."""
    seed(gateway, EARLIER)
    time.sleep(0.01)
    middle = datetime.now(UTC)
    time.sleep(0.01)
    seed(gateway, LATER)
    return middle


def get(gateway: RunningGateway, key: str, route: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{gateway.url}/audit/{route}", params=params, headers=bearer(key))


def search(gateway: RunningGateway, key: str, **filters: Any) -> list[dict[str, Any]]:
    response = get(gateway, key, "records", **filters)
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["data"]
    # The reads themselves, and the keys' creation, are recorded too: left out of what tests compare.
    return [record for record in records if record["kind"] not in ("audit_access", "admin_action")]


def who(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(record["principal"], record["body"]["decisions"][0]) for record in records]


# --- who may read what ------------------------------------------------------------------------------


def test_only_auditor_keys_read_the_log(two_sites: RunningGateway) -> None:
    routes = ["/audit/records", "/audit/export", "/audit/verify", "/audit/public-key"]
    for role in ("member", "admin"):
        key = two_sites.create_key("lu-health", role)
        for route in routes:
            error = assert_error(httpx.get(two_sites.url + route, headers=bearer(key)), 403)
            assert "auditor role" in error["message"] and error["type"] == "permission_error"
    for route in routes:
        assert_error(httpx.get(two_sites.url + route), 401, "missing_api_key")
    auditor = two_sites.create_key("lu-health", "auditor")
    for route in routes:
        assert httpx.get(two_sites.url + route, headers=bearer(auditor)).status_code == 200, route


def test_the_openapi_document_describes_the_audit_routes(two_sites: RunningGateway) -> None:
    paths = httpx.get(two_sites.url + "/openapi.json").json()["paths"]
    records, export = paths["/audit/records"]["get"], paths["/audit/export"]["get"]
    assert [parameter["name"] for parameter in records["parameters"]] == [
        *("from", "to", "tenant", "principal", "use_case", "kind", "status", "decision", "after", "limit")
    ]
    assert {"400", "401", "403", "409", "503"} <= set(records["responses"])
    assert list(export["responses"]["200"]["content"]) == ["application/x-ndjson"]
    assert {"/audit/verify", "/audit/public-key"} <= set(paths)


def test_an_auditor_reads_its_own_tenants_records_only(site: RunningGateway) -> None:
    member = site.create_key("lu-health", "member")
    answered = httpx.post(
        site.api + "/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "Bonjour"}]},
        headers=bearer(member),
    )
    assert answered.status_code == 200, answered.text
    seed(site, EARLIER)
    lu_auditor = site.create_key("lu-health", "auditor")
    eu_auditor = site.create_key("eu-research", "auditor")

    seen = search(site, lu_auditor)
    assert {record["tenant"] for record in seen} == {"lu-health"} and len(seen) == 4
    assert OTHER_PRINCIPAL not in get(site, lu_auditor, "records").text
    # The call made through the gateway, as recorded: who, which backend, keyed hashes of the content.
    made = seen[0]
    assert (made["kind"], made["status"], made["body"]["backend"]) == ("model_call", "ok", "fake-lu")
    assert made["body"]["decisions"] == ["route:fake-lu"] and "Bonjour" not in str(made)
    assert made["hash"] == seen[1]["prev_hash"] and made["seq"] < seen[1]["seq"]
    assert {record["tenant"] for record in search(site, eu_auditor)} == {"eu-research"}

    assert search(site, lu_auditor, tenant="lu-health") == seen
    refused = get(site, lu_auditor, "records", tenant="eu-research")
    assert assert_error(refused, 403, "permission_denied")["param"] == "tenant"


def test_each_filter_narrows_the_search(site: RunningGateway) -> None:
    middle = seeded_in_two_periods(site)
    auditor = site.create_key("lu-health", "auditor")

    def found(**filters: Any) -> list[tuple[str, str]]:
        return who(search(site, auditor, **filters))

    alice_routed = ("k-alice", "route:fake-lu")
    alice_refused = ("k-alice", "refused:classification_violation")
    bob_routed, bob_refused = ("k-bob", "route:fake_lu"), ("k-bob", "refused:residency_violation")
    assert found() == [alice_routed, alice_refused, bob_routed, bob_refused]
    assert found(principal="k-alice") == [alice_routed, alice_refused]
    assert found(use_case="citizen-faq") == [alice_routed]
    assert found(status="residency_violation") == [bob_refused]
    assert found(kind="model_call") == found() and found(kind="no_such_kind") == []
    assert found(decision="refused:classification_violation") == [alice_refused]
    assert found(decision="route:") == [alice_routed, bob_routed]  # every decision of a kind
    assert found(decision="route:fake_lu") == [bob_routed] and found(decision="route") == []
    assert found(decision="refused:") == [alice_refused, bob_refused]
    assert found(**{"from": middle.isoformat()}) == [bob_refused]
    assert found(to=middle.isoformat()) == [alice_routed, alice_refused, bob_routed]
    # A moment with another offset is the same moment (SQLite stores `at` without one).
    in_athens = middle.astimezone(timezone(timedelta(hours=2))).isoformat()
    assert found(**{"from": in_athens}) == [bob_refused]
    assert found(to=in_athens) == [alice_routed, alice_refused, bob_routed]
    assert found(principal="k-bob", decision="refused:", to=middle.isoformat()) == []


def test_pages_follow_the_cursor_to_the_last(site: RunningGateway) -> None:
    seed(site, [call("lu-health" if number % 3 else "eu-research", "k", "route:x") for number in range(37)])
    auditor = site.create_key("lu-health", "auditor")
    every = [record["seq"] for record in search(site, auditor, kind="model_call", limit=1000)]
    assert len(every) == 24 and every == sorted(every)
    pages, after = [], 0
    while True:
        response = get(site, auditor, "records", kind="model_call", limit=10, after=after).json()
        pages.append([record["seq"] for record in response["data"]])
        if response["next_after"] is None:
            break
        after = response["next_after"]
        assert after == pages[-1][-1]
    assert [len(page) for page in pages] == [10, 10, 4]
    assert [seq for page in pages for seq in page] == every


# --- bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_input_is_a_400_naming_what_to_fix(site: RunningGateway) -> None:
    auditor = site.create_key("lu-health", "auditor")
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("records", {"from": "yesterday"}, "from"),
        ("records", {"from": "2026-02-01", "to": "2026-01-01"}, "from"),
        ("export", {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
        ("export", {"to": "9999-12-31T23:59:59-05:00"}, "to"),  # past the year 9999 in UTC
        ("records", {"limit": 0}, "limit"),
        ("records", {"limit": 1001}, "limit"),
        ("records", {"after": -1}, "after"),
        ("records", {"after": 2**64}, "after"),
        ("records", {"kind": ""}, "kind"),
        ("records", {"principal": "k" * 65}, "principal"),
        ("records", {"form": "2026-01-01"}, "form"),  # a misspelt filter is not silently ignored
        ("export", {"tenant": "lu-health"}, "tenant"),
    ]
    for route, params, param in cases:
        response = get(site, auditor, route, **params)
        error = assert_error(response, 400)
        assert param in (error["param"] or "") + error["message"], (params, error)


# --- export -----------------------------------------------------------------------------------------


def test_a_tenants_export_is_verified_by_a_third_party_and_hides_the_other_tenants(
    site: RunningGateway, tmp_path: Path
) -> None:
    seed(site, EARLIER + LATER)
    auditor = site.create_key("lu-health", "auditor")
    response = get(site, auditor, "export", **{"from": "2020-01-01"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    text = response.text
    assert "eu-research" not in text and OTHER_PRINCIPAL not in text and "fake-fr" not in text

    lines = [orjson.loads(line) for line in text.splitlines()]
    records = lines[1:-1]
    stubs = [line for line in records if line["type"] == "stub"]
    # The seeded records, the auditor key's creation, then the record of this export, made before it was read.
    assert [line["seq"] for line in records] == list(range(1, 10)) and len(stubs) == 3
    assert all(set(stub) == {"type", "seq", "prev_hash", "hash"} for stub in stubs)
    assert orjson.loads(records[-1]["body"])["kind"] == "audit_access"
    assert lines[-1]["tenant"] == "lu-health" and lines[-1]["count"] == 9

    published = get(site, auditor, "public-key").json()
    assert published["pem"] == public_pem(signing_key(site.settings).public_key())
    verdict = verify_lines(text.splitlines(keepends=True), load_public(published["pem"]))
    assert (verdict.problem, verdict.records, verdict.stubs) == (None, 9, 3)

    # A third party, with the file and the key only.
    (tmp_path / "export.jsonl").write_text(text)
    (tmp_path / "site.pub").write_text(published["pem"])
    checked = souverain_audit(
        tmp_path / "third-party",
        "verify",
        "--file",
        str(tmp_path / "export.jsonl"),
        "--public-key",
        str(tmp_path / "site.pub"),
    )
    assert checked.returncode == 0, checked.stderr
    assert "intact: 9 records of site test (6 of tenant lu-health in full, 3 of others by their hash)" in (
        checked.stdout
    )


# --- verification and the record of every read -----------------------------------------------------


def tamper(gateway: RunningGateway, seq: int, body: str) -> None:
    async def change() -> None:
        database = Database(gateway.settings.sqlalchemy_url())
        try:
            async with database.session() as session, session.begin():
                changed = update(AuditRecordRow).where(AuditRecordRow.seq == seq).values(body=body)
                await session.execute(changed)
        finally:
            await database.close()

    asyncio.run(change())


def test_verify_names_the_changed_record_and_nothing_it_holds(site: RunningGateway) -> None:
    seed(site, EARLIER)
    auditor = site.create_key("lu-health", "auditor")
    verdict = get(site, auditor, "verify")
    intact = {"intact": True, "records": len(EARLIER) + 2, "first_bad_seq": None, "problem": None}
    assert verdict.json() == intact  # the seeded records, the key's creation and this verification

    tamper(site, 2, "{not json " + OTHER_PRINCIPAL)  # another tenant's record
    broken = get(site, auditor, "verify")
    assert broken.status_code == 200 and OTHER_PRINCIPAL not in broken.text
    assert broken.json() == {
        "intact": False,
        "records": 1,
        "first_bad_seq": 2,
        "problem": "its content is not valid JSON",
    }
    # An export started before the break was found: it ends with the reason instead of a signature.
    cut = get(site, auditor, "export").text.splitlines(keepends=True)
    assert orjson.loads(cut[-1]) == {
        "type": "error",
        "message": "the audit log is broken at record 2: its content is not valid JSON: run `souverain "
        "audit verify`",
    }
    assert "line 3: the export stopped: the audit log is broken at record 2" in str(verify_lines(cut).problem)

    tamper(site, 3, "{not json either")  # one of its own: shown, without a body to read
    shown = {record["seq"]: record for record in search(site, auditor)}
    assert shown[3]["body"] is None and shown[1]["body"]["principal"] == "k-alice"
    by_decision = get(site, auditor, "records", decision="route:")
    if site.settings.sqlalchemy_url().startswith("sqlite"):
        assert [record["seq"] for record in by_decision.json()["data"]] == [1, 4]
    else:  # PostgreSQL refuses to read as JSON what is not
        assert_error(by_decision, 409, "conflict")


def test_every_read_is_recorded_with_what_was_asked(site: RunningGateway) -> None:
    seed(site, EARLIER)
    auditor = site.create_key("lu-health", "auditor")
    asked = {"principal": "k-alice", "decision": "route:", "from": "2026-01-01T00:00:00+01:00", "limit": 5}
    get(site, auditor, "records", **asked)
    get(site, auditor, "export", to="2099-01-01")
    get(site, auditor, "verify")
    get(site, auditor, "records", tenant="eu-research")

    accesses = get(site, auditor, "records", kind="audit_access").json()["data"]
    reads = [(access["body"]["action"], access["status"], access["body"]["query"]) for access in accesses]
    assert reads[:4] == [
        (
            "search",
            "ok",
            {"principal": "k-alice", "decision": "route:", "from": "2025-12-31T23:00:00.000000Z", "limit": 5},
        ),
        ("export", "ok", {"to": "2099-01-01T00:00:00.000000Z"}),
        ("verify", "ok", {}),
        ("search", "permission_denied", {"tenant": "eu-research", "limit": 100}),
    ]
    assert reads[4] == ("search", "ok", {"kind": "audit_access", "limit": 100})  # this very search
    assert {(access["tenant"], access["body"]["role"]) for access in accesses} == {("lu-health", "auditor")}
    assert len({access["principal"] for access in accesses}) == 1
    assert "k-alice" not in str([access for access in accesses if access["body"]["action"] != "search"])

    verdict = get(site, auditor, "verify").json()
    # The seeded records, the key's creation, the reads, this one.
    assert verdict["intact"] and verdict["records"] == len(EARLIER) + 1 + 5 + 1
