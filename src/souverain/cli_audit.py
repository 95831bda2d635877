"""`souverain audit`: verify the tamper-evident audit log, export a period signed with the site's key."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer

from souverain.cli_support import (
    ConfigOption,
    deployment_of,
    err,
    opened_database,
    out,
    run_on_audit_log,
    settings_for,
)
from souverain.governance.audit.chain import Finding
from souverain.governance.audit.export import Exported, export, verify_lines
from souverain.governance.audit.log import verify_store
from souverain.governance.audit.signing import fingerprint, load_public, public_pem, signing_key

audit_app = typer.Typer(help="Verify the tamper-evident audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Check an export instead of the store, without database access."),
    ] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(
            help="The site's public key (`souverain audit public-key`) the export must be signed by."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Check the audit log: exit 0 when intact, 1 naming the first record changed, removed, inserted or
    moved (or a bad signature), 2 when there is nothing to check."""
    if file is not None:
        _verify_file(file, public_key)
        return
    settings = settings_for(config)

    async def verify() -> tuple[int, Finding | None]:
        async with opened_database(settings) as database:
            return await verify_store(database)

    checked, finding = run_on_audit_log(verify())
    if finding is not None:
        err.print(f"[red]TAMPERED[/red] {finding}; the {checked} records before it are intact")
        raise typer.Exit(1)
    out.print(f"intact: {checked} records" if checked else "intact: the log is empty")


def _verify_file(file: Path, public_key: Path | None) -> None:
    pinned = None
    if public_key is not None:
        pinned = load_public(public_key.read_text()) if public_key.is_file() else None
        if pinned is None:
            err.print(f"[red]{public_key}[/red] is not an Ed25519 public key (PEM or base64)")
            raise typer.Exit(2)
    try:
        with file.open(encoding="utf-8", newline="") as lines:
            verdict = verify_lines(lines, pinned)
    except (OSError, UnicodeDecodeError) as error:
        err.print(f"[red]cannot read {file}[/red]: {error}")
        raise typer.Exit(2) from None
    if verdict.problem is not None:
        err.print(f"[red]NOT VERIFIED[/red] {verdict.problem}; {verdict.records} records checked before it")
        raise typer.Exit(1)
    signer = "the pinned key" if verdict.pinned else "the key it carries (pin it with --public-key)"
    shown = ""
    if verdict.tenant is not None:
        whole = verdict.records - verdict.stubs
        shown = f" ({whole} of tenant {verdict.tenant} in full, {verdict.stubs} of others by their hash)"
    out.print(
        f"intact: {verdict.records} records of site {verdict.site}{shown}, "
        f"signed by {signer} {verdict.fingerprint}"
    )


@audit_app.command("export")
def audit_export(
    start: Annotated[datetime | None, typer.Option("--from", help="First moment included (UTC).")] = None,
    end: Annotated[datetime | None, typer.Option("--to", help="First moment excluded (UTC).")] = None,
    output: Annotated[Path | None, typer.Option(help="File to write. Default: standard output.")] = None,
    config: ConfigOption = None,
) -> None:
    """Write the records of a period as JSON Lines with a checkpoint signed by the site's key, which
    anyone can check with `souverain audit verify --file` and the site's public key alone."""
    settings = settings_for(config)
    deployment = deployment_of(settings)
    key = signing_key(settings)

    async def write(stream: TextIO) -> Exported:
        # The bounds are taken as UTC when they carry no offset (`export` sees to it).
        async with opened_database(settings) as database:
            return await export(database, key, deployment.site.name, start, end, stream)

    if output is None:
        done = run_on_audit_log(write(sys.stdout))
    else:
        with output.open("w", encoding="utf-8") as stream:
            done = run_on_audit_log(write(stream))
    err.print(
        f"exported {done.records} records ({done.first_seq} to {done.last_seq}), signed {done.fingerprint}"
    )


@audit_app.command("public-key")
def audit_public_key(config: ConfigOption = None) -> None:
    """Print the site's public signing key (PEM), for third parties to pin."""
    key = signing_key(settings_for(config)).public_key()
    out.print(public_pem(key).strip())
    err.print(f"fingerprint {fingerprint(key)}")
