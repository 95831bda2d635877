"""`souverain privacy`: data subjects' requests, retention purges and the record of processing."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.cli_retention import purge_command, ropa_command
from souverain.cli_support import ConfigOption, deployment_of, err, run, settings_for
from souverain.cli_usecases import Format
from souverain.config import Deployment, Settings, TenantConfig
from souverain.errors import NotFound
from souverain.governance.audit.events import operator

privacy_app = typer.Typer(
    help="Personal data: subjects' requests, purges, record of processing.", no_args_is_help=True
)


class ErasureMode(StrEnum):
    DELETE = "delete"
    REDACT = "redact"


SubjectOption = Annotated[
    str,
    typer.Option(
        help="The person's identifier, e-mail address, phone number or name, written any usual way."
    ),
]
TenantOption = Annotated[str, typer.Option(help="The tenant whose documents and conversations are searched.")]


@privacy_app.command("export")
def privacy_export(
    tenant: TenantOption,
    subject: SubjectOption,
    output: Annotated[
        Path | None, typer.Option(help="Write the JSON to this file instead of the terminal.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """All that is held about a person (GDPR art. 15): the documents and passages that mention them, stored
    answers and held outputs, as JSON. Recorded in the audit log as the operator's (`cli`)."""
    settings = settings_for(config)
    deployment = deployment_of(settings)

    async def export(services: Services, tenant_config: TenantConfig) -> dict[str, Any]:
        return await services.subject_requests.export(tenant_config, subject, operator(tenant))

    found = run(_on_subject_requests(settings, deployment, tenant, export))
    text = json.dumps(found, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    counts = found["counts"]
    err.print(
        f"wrote {output} ({counts['documents']} documents, {counts['answers']} answers, "
        f"{counts['reviews']} reviews)"
    )


@privacy_app.command("erase")
def privacy_erase(
    tenant: TenantOption,
    subject: SubjectOption,
    mode: Annotated[
        ErasureMode | None,
        typer.Option(
            help="`delete` the documents that mention them, or `redact` the mentions. "
            "Default: the tenant's pii.erasure."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase a person (GDPR art. 17) from the tenant's documents, passages, vectors, stored answers and held
    outputs, then print the erasure certificate (JSON, without the value). Cannot be undone."""
    settings = settings_for(config)
    deployment = deployment_of(settings)
    if not yes:
        typer.confirm(
            f"Erase every trace of this person from tenant {tenant!r}? This cannot be undone", abort=True
        )

    async def erase(services: Services, tenant_config: TenantConfig) -> dict[str, Any]:
        chosen = mode.value if mode is not None else None
        return await services.subject_requests.erase(tenant_config, subject, operator(tenant), chosen)

    certificate = run(_on_subject_requests(settings, deployment, tenant, erase))
    print(json.dumps(certificate, indent=2, ensure_ascii=False))


async def _on_subject_requests(
    settings: Settings,
    deployment: Deployment,
    tenant: str,
    work: Callable[[Services, TenantConfig], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """The work, on the running services (a redaction embeds passages again, through the gateway)."""
    tenant_config = deployment.tenant(tenant)
    if tenant_config is None:
        raise NotFound(f"unknown tenant {tenant!r}", param="tenant")
    async with running(build_services(settings, deployment)) as services:
        return await work(services, tenant_config)


@privacy_app.command("purge")
def privacy_purge(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant. Default: every tenant.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be purged; change nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Purge what is older than each tenant's retention periods (`retention` in the deployment file):
    stored conversations, documents, and request records (reduced to their place in the audit chain).
    The server does the same every hour; each purge is recorded in the audit log."""
    purge_command(tenant, dry_run, config)


@privacy_app.command("ropa")
def privacy_ropa(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's section.")] = None,
    output_format: Annotated[Format, typer.Option("--format", help="markdown or json.")] = Format.MARKDOWN,
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
    config: ConfigOption = None,
) -> None:
    """The record of processing activities (GDPR art. 30): per tenant, its purposes, personal data,
    retention, recipients (backends and where they process data), transfers and security measures."""
    ropa_command(tenant, output_format, output, config)
