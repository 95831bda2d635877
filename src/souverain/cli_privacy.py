"""`souverain privacy`: data subjects' requests, retention purges and the record of processing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from souverain.app import build_services, with_embedded_embeddings
from souverain.cli_support import (
    ConfigOption,
    deployment_of,
    err,
    opened_store,
    out,
    run,
    running_for_tenant,
    settings_for,
)
from souverain.cli_usecases import Format, written
from souverain.governance.audit.events import operator
from souverain.privacy.requests import Mode
from souverain.privacy.retention import CATEGORIES, Purged, RetentionService
from souverain.privacy.ropa import markdown, record_of_processing
from souverain.tenancy.tenants import sync_tenants
from souverain.tenancy.usecases import UseCaseService

privacy_app = typer.Typer(
    help="Personal data: subjects' requests, purges, record of processing.", no_args_is_help=True
)


_UNITS = {"answers": "answers", "reviews": "held outputs", "documents": "documents", "chunks": "chunks"}
_UNITS |= {"records": "request records"}


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

    async def export() -> dict[str, Any]:
        async with running_for_tenant(settings, deployment, tenant) as (services, tenant_config):
            return await services.subject_requests.export(tenant_config, subject, operator(tenant))

    found = run(export())
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

    async def erase() -> dict[str, Any]:
        chosen: Mode | None = mode.value if mode is not None else None
        async with running_for_tenant(settings, deployment, tenant) as (services, tenant_config):
            return await services.subject_requests.erase(tenant_config, subject, operator(tenant), chosen)

    certificate = run(erase())
    print(json.dumps(certificate, indent=2, ensure_ascii=False))


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
    settings = settings_for(config)
    deployment = deployment_of(settings)

    async def purge() -> list[Purged]:
        services = build_services(settings, deployment)  # no engine is started: a purge calls none
        database, audit = services.database, services.audit
        try:
            await asyncio.to_thread(database.migrate)
            await sync_tenants(database, deployment)
            await audit.start()
            retention = RetentionService(database, deployment, services.knowledge, audit)
            return await retention.purge(tenant, dry_run=dry_run, by=operator)
        finally:
            await audit.close()  # the purge events are written before the store closes
            await database.close()

    done = {(purged.tenant, purged.category): purged for purged in run(purge())}
    verb = "would purge" if dry_run else "purged"
    for config_of in deployment.tenants:
        if tenant not in (None, config_of.name):
            continue
        for category in CATEGORIES:
            purged = done.get((config_of.name, category))
            if purged is None:
                out.print(f"{config_of.name} {category}: kept until deleted (no retention period)")
                continue
            counts = ", ".join(f"{count} {_UNITS[name]}" for name, count in purged.counts.items())
            before = purged.cutoff.isoformat(timespec="seconds")
            out.print(f"{purged.tenant} {category}: {verb} {counts} (made before {before})")


@privacy_app.command("ropa")
def privacy_ropa(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's section.")] = None,
    output_format: Annotated[Format, typer.Option("--format", help="markdown or json.")] = Format.MARKDOWN,
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
    config: ConfigOption = None,
) -> None:
    """The record of processing activities (GDPR art. 30): per tenant, its purposes, personal data,
    retention, recipients (backends and where they process data), transfers and security measures."""
    settings = settings_for(config)
    # As the server runs it: with the embedded embedding engine, a recipient of documents and questions.
    deployment = with_embedded_embeddings(deployment_of(settings))
    if tenant is not None and deployment.tenant(tenant) is None:
        err.print(f"[red]no tenant named {tenant!r}[/red] in the deployment file")
        raise SystemExit(2)

    async def read() -> dict[str, Any]:
        # The use cases in force: the deployment file's and those registered through the admin API.
        async with opened_store(settings, deployment) as (database, audit):
            cases = await UseCaseService(database, deployment, audit).list(tenant)
        return record_of_processing(deployment, cases, datetime.now(UTC), tenant)

    document = run(read())
    written(document, output_format, markdown, output, f"{len(document['tenants'])} tenants")
