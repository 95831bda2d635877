"""`souverain privacy`: data subjects' requests, retention purges and the record of processing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from souverain.cli_retention import purge_command, ropa_command
from souverain.cli_support import ConfigOption
from souverain.cli_usecases import Format

privacy_app = typer.Typer(
    help="Personal data: subjects' requests, purges, record of processing.", no_args_is_help=True
)


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
