"""Human review as its users meet it over HTTP: the caller of a high-risk use case gets 202 and a review
id, a reviewer approves, edits or rejects, the caller fetches what was released; every step recorded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import update

from souverain.config_privacy import PrivacyConfig
from souverain.gateway.metrics import Metrics
from souverain.governance.audit.events import ContentHasher
from souverain.governance.audit.keys import audit_key
from souverain.governance.audit.log import AuditLog
from souverain.governance.review.sealing import Sealer
from souverain.governance.review.service import ReviewService
from souverain.privacy.recognizers import build_analyzer
from souverain.privacy.subjects import SubjectHasher, Subjects
from souverain.store.database import Database
from souverain.store.models import ReviewRow
from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, two_site_deployment
from tests.integration.governance.records import logged_bodies
from tests.integration.test_admin_api import assert_error, bearer

TRIAGE = {
    "name": "benefit-triage",
    "purpose": "Sort incoming benefit claims by urgency for a caseworker.",
    "legal_basis": "GDPR art. 6(1)(e)",
    "risk": "high",
    "annex_iii": "essential_services",
    "owner": "Caisse nationale",
}
SECRET = "Marie Schmit, IBAN LU28 0019 4006 4475 0000"
MESSAGES = [{"role": "user", "content": f"Classer la demande de {SECRET} par urgence."}]


def site_with(
    factory: Callable[..., RunningGateway], lu: FakeBackend, fr: FakeBackend, **case: Any
) -> RunningGateway:
    raw = two_site_deployment(lu.url, fr.url)
    raw["tenants"][0]["use_cases"] = [TRIAGE | case]
    return factory(raw)


@pytest.fixture
def site(
    gateway_factory: Callable[..., RunningGateway], fake_lu: FakeBackend, fake_fr: FakeBackend
) -> RunningGateway:
    return site_with(gateway_factory, fake_lu, fake_fr)


def ask(gateway: RunningGateway, key: str, **extra: Any) -> httpx.Response:
    body = {"model": "m", "messages": MESSAGES, **extra}
    return httpx.post(gateway.api + "/chat/completions", json=body, headers=bearer(key), timeout=10)


def decide(gateway: RunningGateway, key: str, review: str, **decision: Any) -> httpx.Response:
    return httpx.post(f"{gateway.api}/reviews/{review}/decision", json=decision, headers=bearer(key))


def fetch(gateway: RunningGateway, key: str, review: str) -> httpx.Response:
    return httpx.get(f"{gateway.api}/reviews/{review}/result", headers=bearer(key))


def review_events(gateway: RunningGateway) -> list[dict[str, Any]]:
    events, finding = logged_bodies(gateway.settings.sqlalchemy_url(), "review")
    assert finding is None
    return events


def held(gateway: RunningGateway, caller: str) -> str:
    response = ask(gateway, caller)
    assert response.status_code == 202, response.text
    body = response.json()
    review = body["souverain"]["review"]
    assert body["object"] == "chat.completion" and body["choices"] == []  # nothing to show yet
    assert response.headers["location"] == review["result_url"] == f"/v1/reviews/{review['id']}/result"
    assert response.headers["x-ai-generated"] == "true" and review["status"] == "pending"
    return str(review["id"])


def test_an_approved_output_reaches_the_caller_only_after_the_decision(site: RunningGateway) -> None:
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewer = site.create_key("lu-health", "reviewer")
    review = held(site, caller)
    waiting = fetch(site, caller, review)
    assert waiting.status_code == 202 and waiting.json()["status"] == "pending"

    listed = httpx.get(site.api + "/reviews", headers=bearer(reviewer)).json()["data"]
    assert [item["id"] for item in listed] == [review]
    item = listed[0]
    assert item["request"] == MESSAGES and item["use_case"] == "benefit-triage"
    draft = item["output"]["choices"][0]["message"]["content"]
    assert draft and item["released"] is None

    approved = decide(site, reviewer, review, decision="approve")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    released = fetch(site, caller, review)
    assert released.status_code == 200
    completion = released.json()
    assert completion["choices"][0]["message"]["content"] == draft
    assert completion["souverain"]["review"]["decision"] == "approved"
    assert completion["souverain"]["ai_generated"] is True
    assert fetch(site, caller, review).status_code == 200  # again: still there

    events = review_events(site)
    assert [event["action"] for event in events] == ["held", "approved", "released"]  # released once
    assert events[1]["waited_seconds"] >= 0 and events[1]["call_record"] == events[0]["call_record"]
    assert all(SECRET not in orjson.dumps(event).decode() for event in events)
    metrics = httpx.get(site.url + "/metrics").text
    labels = 'decision="approved",tenant="lu-health",use_case="benefit-triage"'
    assert f"souverain_review_wait_seconds_count{{{labels}}} 1.0" in metrics
    # Held content is sealed in the store: the citizen's data is not readable in the database file.
    assert SECRET.encode() not in Path(site.settings.data_dir, "souverain.db").read_bytes()


def test_an_edit_releases_the_reviewers_text_and_a_rejection_nothing(site: RunningGateway) -> None:
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewer = site.create_key("lu-health", "reviewer")
    first, second = held(site, caller), held(site, caller)

    edited = decide(site, reviewer, first, decision="edit", content="Urgence : haute.", reason="Revenu nul.")
    assert edited.status_code == 200 and edited.json()["status"] == "edited"
    completion = fetch(site, caller, first).json()
    assert completion["choices"][0]["message"]["content"] == "Urgence : haute."
    assert completion["souverain"]["review"]["decision"] == "edited"

    rejected = decide(site, reviewer, second, decision="reject", reason="Hors du champ de la triage.")
    assert rejected.status_code == 200
    refused = assert_error(fetch(site, caller, second), 409, "review_rejected")
    assert "Hors du champ" in refused["message"]

    events = review_events(site)
    edit = next(event for event in events if event["action"] == "edited")
    assert len(edit["reason_hash"]) == len(edit["output_hash"]) == 64
    assert "Revenu nul" not in orjson.dumps(events).decode()


def test_review_actions_that_cannot_be_are_refused_with_a_reason(site: RunningGateway) -> None:
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewer = site.create_key("lu-health", "reviewer")
    review = held(site, caller)

    for key in (caller, site.create_key("lu-health", "admin")):
        assert_error(decide(site, key, review, decision="approve"), 403)
        assert_error(httpx.get(site.api + "/reviews", headers=bearer(key)), 403)
    elsewhere = site.create_key("eu-research", "reviewer")
    assert_error(decide(site, elsewhere, review, decision="approve"), 404)
    assert_error(fetch(site, site.create_key("lu-health"), review), 404)  # not the caller's
    assert assert_error(decide(site, reviewer, review, decision="reject"), 400)["param"] == "reason"
    assert (
        assert_error(decide(site, reviewer, review, decision="edit", reason="x"), 400)["param"] == "content"
    )
    assert assert_error(decide(site, reviewer, review, decision="maybe"), 400)["param"] == "decision"
    assert_error(decide(site, reviewer, "rev_nothing", decision="approve"), 404)

    assert decide(site, reviewer, review, decision="approve").status_code == 200
    twice = assert_error(decide(site, reviewer, review, decision="reject", reason="late"), 409)
    assert twice["code"] == "review_already_decided"
    assert assert_error(ask(site, caller, stream=True), 400, "review_required")["param"] == "stream"


def test_two_reviewers_deciding_at_once_make_one_decision(site: RunningGateway) -> None:
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewers = [site.create_key("lu-health", "reviewer") for _ in range(2)]
    review = held(site, caller)

    async def both() -> list[int]:
        async with httpx.AsyncClient() as client:
            calls = [
                client.post(
                    f"{site.api}/reviews/{review}/decision",
                    json={"decision": "reject", "reason": f"reviewer {n}"},
                    headers=bearer(key),
                )
                for n, key in enumerate(reviewers)
            ]
            return sorted(response.status_code for response in await asyncio.gather(*calls))

    assert asyncio.run(both()) == [200, 409]
    events = review_events(site)
    assert [event["action"] for event in events] == ["held", "rejected"]


def test_an_output_nobody_reviewed_in_time_expires_unreleased(
    gateway_factory: Callable[..., RunningGateway], fake_lu: FakeBackend, fake_fr: FakeBackend
) -> None:
    site = site_with(gateway_factory, fake_lu, fake_fr, review_hours=0.0003)  # about a second
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewer = site.create_key("lu-health", "reviewer")
    review = held(site, caller)
    time.sleep(1.3)
    assert assert_error(decide(site, reviewer, review, decision="approve"), 410)["code"] == "review_expired"
    assert_error(fetch(site, caller, review), 410, "review_expired")
    assert httpx.get(site.api + "/reviews", headers=bearer(reviewer)).json()["data"] == []
    expired = httpx.get(site.api + "/reviews", params={"status": "expired"}, headers=bearer(reviewer))
    assert [item["id"] for item in expired.json()["data"]] == [review]
    events = review_events(site)
    assert [(event["action"], event["principal"]) for event in events] == [
        ("held", events[0]["principal"]),
        ("expired", "system"),
    ]


def test_held_content_is_erased_after_the_retention_and_the_decision_stays(site: RunningGateway) -> None:
    caller = site.create_key("lu-health", use_case="benefit-triage")
    reviewer = site.create_key("lu-health", "reviewer")
    review = held(site, caller)
    assert decide(site, reviewer, review, decision="approve").status_code == 200

    async def a_year_later() -> int:
        database = Database(site.settings.sqlalchemy_url())
        try:
            async with database.session() as session, session.begin():
                # The decision as if made `retention_days` ago: its erasure is due.
                past = datetime.now(UTC) - timedelta(minutes=1)
                await session.execute(
                    update(ReviewRow).where(ReviewRow.id == review).values(erase_after=past)
                )
            metrics = Metrics()
            site_key = audit_key(site.settings)
            service = ReviewService(
                database,
                AuditLog(database, "test"),
                ContentHasher(site_key),
                Sealer(b"k"),
                metrics.reviews_held,
                metrics.review_wait,
                Subjects(build_analyzer(PrivacyConfig()), SubjectHasher(site_key)),
            )
            return await service.erase_past_retention()
        finally:
            await database.close()

    assert asyncio.run(a_year_later()) == 1
    assert_error(fetch(site, caller, review), 410, "review_erased")
    kept = httpx.get(f"{site.api}/reviews/{review}", headers=bearer(reviewer)).json()
    assert kept["erased"] is True and kept["status"] == "approved" and kept["reviewer"]
    assert kept["request"] is None and kept["output"] is None and kept["released"] is None
