"""The record of processing says what a data-protection officer checks: purposes and their legal basis,
personal data and what the policy does with it, retention, recipients and where they are, transfers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from souverain.config import Deployment, parse_deployment
from souverain.engines import registry
from souverain.privacy.ropa import markdown, only, record_of_processing
from souverain.tenancy.usecases import UseCase

NOW = datetime(2026, 11, 23, 9, tzinfo=UTC)
RAW: dict[str, Any] = {
    "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
    "backends": [
        {"name": f"mistral-{where.lower()}", "kind": "openai", "url": f"http://10.0.0.{host}/v1"}
        | {"models": ["m"], "jurisdiction": where}
        for host, where in enumerate(("LU", "FR", "CH"), start=5)
    ],
    "tenants": [
        {
            "name": "lu-health",
            "residency": ["LU"],
            "models": ["m"],
            "pii": {"default": "pseudonymise", "iban": "block"},
            "retention": {"conversations_days": 30, "records_days": 365},
            "use_cases": [
                {
                    "name": "benefit-triage",
                    "purpose": "Triage of benefit claims",
                    "legal_basis": "GDPR art. 6(1)(e)",
                    "risk": "high",
                    "annex_iii": "essential_services",
                    "owner": "Benefits unit",
                }
            ],
        },
        {"name": "research", "residency": ["LU", "CH"], "models": ["m"]},
    ],
}


def deployment() -> Deployment:
    return parse_deployment(RAW, "test", registry.kind_infos())


def cases(site: Deployment) -> list[UseCase]:
    return [
        UseCase(tenant.name, spec, "deployment", NOW, NOW, None)
        for tenant in site.tenants
        for spec in tenant.use_cases
    ]


def test_each_tenant_has_its_purposes_data_retention_and_recipients() -> None:
    site = deployment()
    record = record_of_processing(site, cases(site), NOW)
    assert record["controller"] == {"site": "lu-gov-1", "jurisdiction": "LU"}
    health, research = record["tenants"]
    assert health["purposes"] == [
        {
            "use_case": "benefit-triage",
            "purpose": "Triage of benefit claims",
            "legal_basis": "GDPR art. 6(1)(e)",
            "risk": "high",
            "owner": "Benefits unit",
            "human_review": True,
        }
    ]
    assert health["personal_data"]["default"] == "pseudonymise"
    assert health["personal_data"]["types"] == {"IBAN": "block"}
    kept = {item["category"]: item["retention"] for item in health["stored"]}
    assert kept == {"documents": "kept until deleted", "conversations": "30 days", "records": "365 days"}
    # Residency filters the recipients: LU only, never the FR or CH server of the same model.
    recipients = [(item["backend"], item["jurisdiction"]) for item in health["recipients"]]
    assert recipients == [("mistral-lu", "LU")]
    assert health["transfers"] == []
    assert [item["backend"] for item in research["transfers"]] == ["mistral-ch"]
    assert research["purposes"] == []


def test_the_markdown_says_it_plainly_and_one_tenant_sees_its_own_section() -> None:
    site = deployment()
    record = record_of_processing(site, cases(site), NOW)
    text = markdown(record)
    assert "# Record of processing activities — site lu-gov-1 (LU)" in text
    assert "benefit-triage**: Triage of benefit claims — legal basis: GDPR art. 6(1)(e)" in text
    assert "pseudonymise by default; IBAN: block" in text
    assert "| records | " in text and "| 365 days |" in text and "kept until deleted" in text
    assert "- None: every recipient processes data in the EU/EEA." in text
    assert "to CH (mistral-ch): outside the EU/EEA" in text
    assert "No registered use case" in text
    assert "hash chain" in text and "sealed (AES-GCM)" in text
    mine = only(record, "research")
    assert [tenant["name"] for tenant in mine["tenants"]] == ["research"]
    assert "lu-health" not in markdown(mine)
