"""The register of use cases as a document: for a fundamental-rights impact assessment (AI Act art. 27),
a data-protection officer, or anyone who asks what the site's models are used for.

One structure (`register`) rendered two ways: JSON for tools, Markdown for people.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from souverain import jurisdictions
from souverain.config import ANNEX_III_AREAS, Deployment
from souverain.tenancy.keys import KeyInfo
from souverain.tenancy.usecases import UseCase


def register(
    deployment: Deployment, cases: list[UseCase], keys: list[KeyInfo], now: datetime
) -> dict[str, Any]:
    """What each use case is, who answers for it, which models may serve it and where they process data."""
    active_keys = Counter(
        (key.tenant, key.use_case)
        for key in keys
        if key.use_case and key.revoked_at is None and (key.expires_at is None or key.expires_at > now)
    )
    entries = []
    for case in cases:
        tenant = deployment.tenant(case.tenant)
        models = case.spec.models or (tenant.models if tenant else [])
        entries.append(
            {
                "tenant": case.tenant,
                **case.spec.model_dump(exclude={"human_review"}),
                "annex_iii_title": ANNEX_III_AREAS.get(case.spec.annex_iii or ""),
                "human_review": case.spec.reviewed,
                "models": [
                    {
                        "model": model,
                        "processed_in": _where(deployment, model, tenant.residency if tenant else []),
                    }
                    for model in models
                ],
                "residency": tenant.residency if tenant else [],
                "source": case.source,
                "registered_at": case.created_at.isoformat(timespec="seconds"),
                "retired_at": case.retired_at.isoformat(timespec="seconds") if case.retired_at else None,
                "active_keys": active_keys[(case.tenant, case.name)],
            }
        )
    in_force = [entry for entry in entries if entry["retired_at"] is None]
    return {
        "site": deployment.site.name,
        "jurisdiction": deployment.site.jurisdiction,
        "generated_at": now.isoformat(timespec="seconds"),
        "in_force_by_risk": dict(Counter(entry["risk"] for entry in in_force)),
        "use_cases": entries,
    }


def _where(deployment: Deployment, model: str, residency: list[str]) -> list[str]:
    """The jurisdictions of the backends that may serve the model under the tenant's residency."""
    admitted = jurisdictions.expand(residency)
    found = {
        deployment.jurisdiction_of(backend)
        for backend in deployment.backends
        if model in backend.models and deployment.jurisdiction_of(backend) in admitted
    }
    return sorted(found)


def markdown(document: dict[str, Any]) -> str:
    counts = document["in_force_by_risk"]
    lines = [
        f"# Register of AI use cases — site {document['site']} ({document['jurisdiction']})",
        "",
        f"Generated {document['generated_at']}. In force: "
        + (
            ", ".join(
                f"{counts[risk]} {risk}-risk" for risk in ("high", "limited", "minimal") if risk in counts
            )
            or "none"
        )
        + ".",
        "",
        "| tenant | use case | risk | Annex III | human review | owner | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in document["use_cases"]:
        status = f"retired {entry['retired_at'][:10]}" if entry["retired_at"] else "in force"
        lines.append(
            f"| {entry['tenant']} | {entry['name']} | {entry['risk']} | {entry['annex_iii'] or '—'} | "
            f"{'yes' if entry['human_review'] else 'no'} | {_cell(entry['owner'])} | {status} |"
        )
    for entry in document["use_cases"]:
        models = "; ".join(
            f"{model['model']} (processed in {', '.join(model['processed_in']) or 'nowhere allowed'})"
            for model in entry["models"]
        )
        lines += [
            "",
            f"## {entry['tenant']} / {entry['name']}",
            "",
            f"- **Purpose:** {entry['purpose']}",
            f"- **Legal basis:** {entry['legal_basis']}",
            f"- **Risk class:** {entry['risk']}"
            + (f" — Annex III area {entry['annex_iii_title']}" if entry["annex_iii_title"] else ""),
            f"- **Owner:** {entry['owner']}",
            "- **Human review:** "
            + (
                f"required; outputs expire after {entry['review_hours']:g} h unreviewed"
                if entry["human_review"]
                else "not required"
            ),
            f"- **Models:** {models or 'none'}; tenant residency {', '.join(entry['residency'])}",
            f"- **Retention of held outputs:** {entry['retention_days']} days",
            f"- **Keys in use:** {entry['active_keys']}",
            f"- **Registered:** {entry['registered_at']} ({_SOURCES[entry['source']]})"
            + (f"; retired {entry['retired_at']}" if entry["retired_at"] else ""),
        ]
    return "\n".join(lines) + "\n"


_SOURCES = {"deployment": "deployment file", "api": "admin API"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
