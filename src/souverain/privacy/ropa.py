"""The record of processing activities (GDPR art. 30) of the site, from its configuration: per tenant, the
purposes, the personal data, how long each kind of stored data is kept, who receives it and where.

One structure (`record_of_processing`) rendered two ways: JSON for tools, Markdown for a data-protection
officer, like the register of use cases (tenancy/register.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from souverain import jurisdictions
from souverain.config import Deployment, TenantConfig
from souverain.tenancy.usecases import UseCase

KEPT = "kept until deleted"
STORED = {
    "documents": "documents uploaded to its collections, their passages (chunks) and vectors",
    "conversations": "answers' explanations (question, passages used) and outputs held for review, sealed",
    "records": "audit records of each request: who, when, model, decisions; content only as keyed hashes",
}
SECURITY = (
    "every request, document change and purge recorded in a SHA-256 hash chain; exports signed (Ed25519)",
    "prompts, answers and reasons in the audit log only as keyed hashes (HMAC-SHA256 under the site's key)",
    "outputs held for human review sealed (AES-GCM) and erased after their retention",
    "API keys stored hashed; each key bound to a tenant, a role and a classification clearance",
    "models reached only in the tenant's residency, never above a backend's classification ceiling",
)


def record_of_processing(
    deployment: Deployment, cases: list[UseCase], now: datetime, tenant: str | None = None
) -> dict[str, Any]:
    """The record, for every tenant of the deployment (or only the one named `tenant`); `cases` are the
    use cases in force."""
    return {
        "controller": {"site": deployment.site.name, "jurisdiction": deployment.site.jurisdiction},
        "generated_at": now.isoformat(timespec="seconds"),
        "tenants": [
            _tenant(deployment, config, cases)
            for config in deployment.tenants
            if tenant in (None, config.name)
        ],
    }


def only(document: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The record narrowed to one tenant's section."""
    return document | {"tenants": [entry for entry in document["tenants"] if entry["name"] == tenant]}


def _tenant(deployment: Deployment, tenant: TenantConfig, cases: list[UseCase]) -> dict[str, Any]:
    recipients = _recipients(deployment, tenant)
    policy = tenant.pii
    return {
        "name": tenant.name,
        "residency": tenant.residency,
        "purposes": [
            {
                "use_case": case.name,
                "purpose": case.spec.purpose,
                "legal_basis": case.spec.legal_basis,
                "risk": case.spec.risk,
                "owner": case.spec.owner,
                "human_review": case.spec.reviewed,
            }
            for case in cases
            if case.tenant == tenant.name and case.retired_at is None
        ],
        "personal_data": {
            "default": policy.default,
            "types": dict(policy.types),
            "output_default": policy.output.default,
            "output_types": dict(policy.output.types),
            "erasure": policy.erasure,
        },
        "stored": [
            {
                "category": category,
                "what": what,
                "retention_days": days,
                "retention": KEPT if days is None else f"{days} days",
            }
            for category, what in STORED.items()
            for days in [getattr(tenant.retention, f"{category}_days")]
        ],
        "recipients": recipients,
        "transfers": [
            recipient
            for recipient in recipients
            if recipient["jurisdiction"] not in jurisdictions.EEA_MEMBER_STATES
        ],
        "security": [*SECURITY, _pseudonymisation(tenant)],
    }


def _recipients(deployment: Deployment, tenant: TenantConfig) -> list[dict[str, Any]]:
    """The backends that may receive its data: those serving its models (and the embedding model, for
    its documents and questions) in its residency, as the router admits them."""
    admitted = jurisdictions.expand(tenant.residency)
    models = {*tenant.models, deployment.knowledge.embedding_model}
    found = []
    for backend in deployment.backends:
        served = sorted(models & set(backend.models))
        where = deployment.jurisdiction_of(backend)
        if served and where in admitted:
            found.append(
                {
                    "backend": backend.name,
                    "kind": backend.kind,
                    "in_process": backend.url is None,  # an engine inside souverain, at the site
                    "jurisdiction": where,
                    "models": served,
                }
            )
    return found


def _pseudonymisation(tenant: TenantConfig) -> str:
    policy = tenant.pii
    if not policy.active:
        return "personal data in prompts: sent as written (the tenant's policy allows every type)"
    named = ", ".join(f"{name} {action}" for name, action in sorted(policy.types.items()))
    return f"personal data in prompts: {policy.default} by default" + (f"; {named}" if named else "")


def markdown(document: dict[str, Any]) -> str:
    controller = document["controller"]
    lines = [
        f"# Record of processing activities — site {controller['site']} ({controller['jurisdiction']})",
        "",
        f"GDPR article 30. Generated {document['generated_at']} from the deployment's configuration.",
    ]
    for tenant in document["tenants"]:
        lines += _tenant_markdown(tenant)
    return "\n".join(lines) + "\n"


def _tenant_markdown(tenant: dict[str, Any]) -> list[str]:
    data = tenant["personal_data"]
    types = ", ".join(f"{name}: {action}" for name, action in sorted(data["types"].items()))
    lines = ["", f"## Tenant {tenant['name']}", "", f"Residency: {', '.join(tenant['residency'])}.", ""]
    lines += ["### Purposes", ""]
    lines += [
        f"- **{case['use_case']}**: {case['purpose']} — legal basis: {case['legal_basis']}; "
        f"risk class {case['risk']}; owner {case['owner']}; "
        f"human review {'yes' if case['human_review'] else 'no'}"
        for case in tenant["purposes"]
    ] or ["- No registered use case: no purpose is declared for this tenant."]
    lines += ["", "### Categories of personal data", ""]
    lines += [
        f"- In prompts, by type of personal data: {data['default']} by default"
        + (f"; {types}" if types else "")
        + ".",
        f"- In model outputs: {data['output_default']} by default.",
        f"- On a subject's erasure, a document that mentions them is {_ERASURE[data['erasure']]}.",
    ]
    lines += ["", "### Stored data and retention", "", "| category | what | kept |", "|---|---|---|"]
    lines += [f"| {item['category']} | {item['what']} | {item['retention']} |" for item in tenant["stored"]]
    lines += ["", "### Recipients", ""]
    lines += [
        f"- {item['backend']} ({'in-process at the site' if item['in_process'] else item['kind']}), "
        f"processing in {item['jurisdiction']}: {', '.join(item['models'])}"
        for item in tenant["recipients"]
    ] or ["- None: no backend serves its models within its residency."]
    lines += ["", "### Transfers outside the EU/EEA", ""]
    lines += [
        f"- to {item['jurisdiction']} ({item['backend']}): outside the EU/EEA, needs an adequacy decision "
        "or appropriate safeguards (GDPR chapter V)"
        for item in tenant["transfers"]
    ] or ["- None: every recipient processes data in the EU/EEA."]
    lines += ["", "### Security measures", ""]
    lines += [f"- {measure}" for measure in tenant["security"]]
    return lines


_ERASURE = {"delete": "deleted", "redact": "redacted in place"}
