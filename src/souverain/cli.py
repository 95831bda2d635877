"""The `souverain` command: serve the gateway, manage keys, ingest documents, verify the audit log, check
and document the configuration."""

from __future__ import annotations

import mimetypes
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table

from souverain import __version__, logs
from souverain.app import DEMO_TENANT, create_app
from souverain.cli_audit import audit_app
from souverain.cli_privacy import privacy_app
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
from souverain.cli_usage import usage_app
from souverain.cli_usecases import usecases_app
from souverain.config import Deployment, Limits, Settings
from souverain.docs import render_configuration
from souverain.errors import ConfigError, SouverainError
from souverain.governance.audit.events import operator
from souverain.knowledge.recorded import Editor
from souverain.knowledge.service import Upload
from souverain.tenancy.keys import KeyService

app = typer.Typer(help="souverain: a sovereign gateway for large language models.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
config_app = typer.Typer(
    help="Check the deployment file and document the configuration.", no_args_is_help=True
)
app.add_typer(keys_app, name="keys")
app.add_typer(config_app, name="config")
app.add_typer(audit_app, name="audit")
app.add_typer(usecases_app, name="usecases")
app.add_typer(usage_app, name="usage")
app.add_typer(privacy_app, name="privacy")


async def _with_keys(settings: Settings, deployment: Deployment, action: Any) -> Any:
    async with opened_store(settings, deployment) as (database, audit):
        return await action(KeyService(database, deployment, settings.key_cache_seconds, audit))


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on. Default: $SOUVERAIN_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on. Default: $SOUVERAIN_PORT.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes. Default: $SOUVERAIN_WORKERS.")
    ] = None,
) -> None:
    """Serve the OpenAI-compatible API (the demo tenant on embedded engines without a deployment file)."""
    import uvicorn

    settings = settings_for(config, host=host, port=port, workers=workers)
    deployment = deployment_of(settings)
    logs.configure(settings.log_level)
    run(_prepare_store(settings, deployment))
    try:
        application = create_app(settings, deployment)
    except ConfigError as error:
        err.print(f"[red]invalid configuration[/red] {error.message}")
        raise typer.Exit(2) from None
    _print_banner(settings, deployment)
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "loop": "uvloop",
        "http": "httptools",
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }
    if settings.workers == 1:
        uvicorn.run(application, **options)
        return
    # Worker processes rebuild the app from the environment.
    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"SOUVERAIN_{name.upper()}"] = str(value)
    uvicorn.run("souverain.app:app_from_environment", factory=True, workers=settings.workers, **options)


async def _prepare_store(settings: Settings, deployment: Deployment) -> None:
    # Once here, before any worker process starts, so that workers find the store ready and agree on it.
    async with opened_store(settings, deployment):
        pass


def _print_banner(settings: Settings, deployment: Deployment) -> None:
    out.print(f"souverain {__version__}: site {deployment.site.name} ({deployment.site.jurisdiction})")
    for backend in deployment.backends:
        out.print(
            f"  backend {backend.name}: {backend.kind}, {deployment.jurisdiction_of(backend)}, "
            f"models {', '.join(backend.models)}"
        )
    out.print(f"  tenants: {', '.join(tenant.name for tenant in deployment.tenants) or 'none'}")
    if settings.config is None:
        out.print(
            f"No deployment file given: serving the [bold]{DEMO_TENANT}[/bold] tenant on embedded engines.\n"
            f"Make its first key with:  souverain keys create --tenant {DEMO_TENANT} --role admin"
        )
    out.print(f"Listening on http://{settings.host}:{settings.port}  (API docs at /docs)")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    role: Annotated[str, typer.Option(help="admin, member, auditor or reviewer.")],
    clearance: Annotated[
        str | None, typer.Option(help="Highest classification level. Default: the lowest.")
    ] = None,
    expires_in: Annotated[
        float | None, typer.Option(help="Days until the key expires. Default: never.")
    ] = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "",
    requests_per_minute: Annotated[int | None, typer.Option(help="Limit for this key.")] = None,
    requests_per_day: Annotated[int | None, typer.Option(help="Limit for this key.")] = None,
    tokens_per_minute: Annotated[int | None, typer.Option(help="Limit for this key.")] = None,
    tokens_per_day: Annotated[int | None, typer.Option(help="Limit for this key.")] = None,
    use_case: Annotated[
        str | None, typer.Option(help="Registered use case its calls serve (see `usecases report`).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Create a key. It is printed once, alone on the last line; only its hash is stored."""
    settings = settings_for(config)
    deployment = deployment_of(settings)
    limits = Limits(
        requests_per_minute=requests_per_minute,
        requests_per_day=requests_per_day,
        tokens_per_minute=tokens_per_minute,
        tokens_per_day=tokens_per_day,
    )

    async def create(keys: KeyService) -> Any:
        return await keys.create(
            by=operator(tenant),
            tenant=tenant,
            role=role,
            clearance=clearance,
            expires_in_days=expires_in,
            name=name,
            limits=limits,
            use_case=use_case,
        )

    info, secret = run(_with_keys(settings, deployment, create))
    expiry = info.expires_at.isoformat(timespec="seconds") if info.expires_at else "never"
    out.print(
        f"Created key {info.id} for tenant {info.tenant}: role {info.role}, clearance {info.clearance}, "
        f"use case {info.use_case or 'none'}, expires {expiry}."
    )
    out.print("Store it now: it is not shown again.")
    print(secret)


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    config: ConfigOption = None,
) -> None:
    """List keys (never their secrets)."""
    settings = settings_for(config)

    async def list_keys(keys: KeyService) -> Any:
        return await keys.list(tenant)

    infos = run(_with_keys(settings, deployment_of(settings), list_keys))
    table = Table(box=None, header_style="bold")
    columns = (
        "id",
        "tenant",
        "name",
        "role",
        "clearance",
        "use case",
        "prefix",
        "created",
        "expires",
        "status",
    )
    for column in columns:
        table.add_column(column, no_wrap=True)
    for info in infos:
        status = "revoked" if info.revoked_at else "active"
        table.add_row(
            info.id,
            info.tenant,
            info.name,
            info.role,
            info.clearance,
            info.use_case or "",
            info.prefix + "…",
            info.created_at.strftime("%Y-%m-%d %H:%M"),
            info.expires_at.strftime("%Y-%m-%d %H:%M") if info.expires_at else "never",
            status,
        )
    # Never cut a cell to the terminal's width: operators copy ids into `keys revoke`.
    Console(highlight=False, width=1000).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")],
    config: ConfigOption = None,
) -> None:
    """Revoke a key: it stops working at once here, and within SOUVERAIN_KEY_CACHE_SECONDS elsewhere."""
    settings = settings_for(config)

    async def revoke(keys: KeyService) -> Any:
        return await keys.revoke(key_id, operator(""))

    info = run(_with_keys(settings, deployment_of(settings), revoke))
    out.print(f"Revoked key {info.id} of tenant {info.tenant}.")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (read recursively).")],
    tenant: Annotated[str, typer.Option(help="Tenant that owns the collection.")],
    collection: Annotated[str, typer.Option(help="Collection to add to; created when missing.")],
    classification: Annotated[
        str | None, typer.Option(help="Level of a collection created now, and of its documents.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Add documents to a collection. Files whose content is already there are skipped."""
    settings = settings_for(config)
    deployment = deployment_of(settings)
    files = sorted(_files(paths))
    if not files:
        err.print("no files found")
        raise typer.Exit(1)
    outcomes = run(_ingest(settings, deployment, tenant, collection, classification, files))
    failed = [(path, why) for path, why in outcomes if why not in ("added", "unchanged")]
    added = sum(1 for _, why in outcomes if why == "added")
    out.print(f"{added} added, {len(outcomes) - added - len(failed)} unchanged, {len(failed)} failed")
    for path, why in failed:
        out.print(f"  failed: {path}: {why}")
    if failed:
        raise typer.Exit(1)


def _files(paths: list[Path]) -> list[Path]:
    found = []
    for path in paths:
        if path.is_dir():
            found += [
                file
                for file in path.rglob("*")
                if file.is_file() and not any(part.startswith(".") for part in file.relative_to(path).parts)
            ]
        elif path.is_file():
            found.append(path)
        else:
            err.print(f"[yellow]skipped[/yellow] {path}: no such file or folder")
    return found


async def _ingest(
    settings: Settings,
    deployment: Deployment,
    tenant_name: str,
    collection: str,
    classification: str | None,
    files: list[Path],
) -> list[tuple[Path, str]]:
    outcomes: list[tuple[Path, str]] = []
    async with running_for_tenant(settings, deployment, tenant_name) as (services, tenant):
        knowledge = services.recorded_knowledge  # recorded as the operator's (principal "cli")
        editor = Editor(tenant, deployment.ceiling(tenant.max_classification))  # may file anything
        if collection not in {row.name for row, _ in await services.knowledge.collections(tenant)}:
            await knowledge.create_collection(editor, collection, classification)
        with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=err) as progress:
            task = progress.add_task("ingesting", total=len(files))
            for path in files:
                progress.update(task, description=path.name[:40])
                upload = Upload(
                    data=path.read_bytes(),
                    filename=path.name,
                    media_type=mimetypes.guess_type(path.name)[0],
                    classification=classification,
                )
                try:
                    result = await knowledge.ingest(editor, collection, upload)
                    outcomes.append((path, result.status))
                except SouverainError as error:  # one bad file never stops the batch
                    outcomes.append((path, error.message))
                progress.advance(task)
    return outcomes


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the deployment file; exit 2 naming every problem."""
    settings = settings_for(config)
    deployment = deployment_of(settings)
    out.print(
        f"{settings.config or 'demo deployment'}: valid ({len(deployment.backends)} backends, "
        f"{len(deployment.tenants)} tenants)"
    )


@config_app.command("docs")
def config_docs(
    output: Annotated[Path, typer.Option(help="Where to write the reference.")] = Path(
        "docs/configuration.md"
    ),
) -> None:
    """Regenerate the configuration reference from the settings and the deployment schema."""
    output.write_text(render_configuration(), encoding="utf-8")
    out.print(f"wrote {output}")


@app.command()
def version() -> None:
    """Print the version."""
    out.print(__version__)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
