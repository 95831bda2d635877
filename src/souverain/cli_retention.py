"""`souverain privacy purge` and `ropa`: the retention purge run by the site's operator, and the record of
processing for a data-protection officer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from souverain.app import build_services, with_embedded_embeddings
from souverain.cli_support import deployment_of, err, opened_store, out, run, settings_for
from souverain.cli_usecases import Format, written
from souverain.governance.audit.events import operator
from souverain.privacy.retention import CATEGORIES, Purged, RetentionService
from souverain.privacy.ropa import markdown, only, record_of_processing
from souverain.tenancy.tenants import sync_tenants
from souverain.tenancy.usecases import UseCaseService

_UNITS = {"answers": "answers", "reviews": "held outputs", "documents": "documents", "chunks": "chunks"}
_UNITS |= {"records": "request records"}


def purge_command(tenant: str | None, dry_run: bool, config: Path | None) -> None:
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


def ropa_command(tenant: str | None, output_format: Format, output: Path | None, config: Path | None) -> None:
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
        return record_of_processing(deployment, cases, datetime.now(UTC))

    document = run(read())
    if tenant is not None:
        document = only(document, tenant)
    written(document, output_format, markdown, output, f"{len(document['tenants'])} tenants")
