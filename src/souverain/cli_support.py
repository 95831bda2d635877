"""What every `souverain` subcommand shares: the consoles, the --config option, settings and the
deployment read once, and coroutines run with errors rendered as exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import DBAPIError

from souverain.api.deps import Services
from souverain.app import build_services, load, running
from souverain.config import Deployment, Settings, TenantConfig
from souverain.errors import ConfigError, NotFound, SouverainError
from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database
from souverain.tenancy.tenants import sync_tenants
from souverain.tenancy.usecases import UseCaseService

T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Deployment file (YAML). Default: $SOUVERAIN_CONFIG, else the demo."),
]


def settings_for(config: Path | None, **overrides: Any) -> Settings:
    settings = Settings()
    updates = {name: value for name, value in overrides.items() if value is not None}
    if config is not None:
        updates["config"] = config
    return settings.model_copy(update=updates) if updates else settings


def deployment_of(settings: Settings) -> Deployment:
    try:
        return load(settings)
    except ConfigError as error:
        err.print(f"[red]invalid configuration[/red] {error.message}")
        raise typer.Exit(2) from None


def run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except ConfigError as error:
        err.print(f"[red]invalid configuration[/red] {error.message}")
        raise typer.Exit(2) from None
    except SouverainError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None


@asynccontextmanager
async def opened_database(settings: Settings) -> AsyncIterator[Database]:
    """The store, as it is (not migrated): for commands that only read."""
    database = Database(settings.sqlalchemy_url())
    try:
        yield database
    finally:
        await database.close()


def run_on_audit_log(work: Coroutine[Any, Any, T]) -> T:
    """`run`, for commands that read the audit log: a store without one is exit 2, said plainly."""
    try:
        return run(work)
    except DBAPIError:
        err.print("[red]no audit log in this store[/red] (`souverain serve` creates it on its first start)")
        raise typer.Exit(2) from None


@asynccontextmanager
async def opened_store(
    settings: Settings, deployment: Deployment
) -> AsyncIterator[tuple[Database, AuditLog]]:
    """The store migrated, its tenants and use cases in step with the deployment file, and the audit log
    running: what a command that changes something needs (each change is recorded)."""
    async with opened_database(settings) as database:
        audit = AuditLog(database, deployment.site.name, enabled=settings.audit)
        try:
            await asyncio.to_thread(database.migrate)
            await sync_tenants(database, deployment)
            await audit.start()
            await UseCaseService(database, deployment, audit).sync()
            yield database, audit
        finally:
            await audit.close()  # every record still pending is written before the store closes


@asynccontextmanager
async def running_for_tenant(
    settings: Settings, deployment: Deployment, tenant: str
) -> AsyncIterator[tuple[Services, TenantConfig]]:
    """The running services (engines started: an ingestion or a redaction embeds passages, through the
    gateway) and the configuration of the tenant, which must be in the deployment file."""
    tenant_config = deployment.tenant(tenant)
    if tenant_config is None:
        raise NotFound(f"unknown tenant {tenant!r}", param="tenant")
    async with running(build_services(settings, deployment)) as services:
        yield services, tenant_config
