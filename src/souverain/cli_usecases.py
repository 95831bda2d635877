"""`souverain usecases`: the register of use cases, as documentation for an impact assessment."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from souverain.cli_support import ConfigOption, deployment_of, opened_store, out, run, settings_for
from souverain.tenancy.keys import KeyService
from souverain.tenancy.register import markdown, register
from souverain.tenancy.usecases import UseCaseService

usecases_app = typer.Typer(help="The register of AI use cases.", no_args_is_help=True)


class Format(StrEnum):
    MARKDOWN = "markdown"
    JSON = "json"


Render = Callable[[dict[str, Any]], str]


def written(document: dict[str, Any], form: Format, render: Render, output: Path | None, what: str) -> None:
    """A report as JSON or Markdown (`render`), on the terminal or in `output`, then saying what it holds."""
    as_json = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    text = as_json if form is Format.JSON else render(document)
    if output is None:
        print(text, end="")
        return
    output.write_text(text, encoding="utf-8")
    out.print(f"wrote {output} ({what})")


@usecases_app.command("report")
def usecases_report(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's use cases.")] = None,
    output_format: Annotated[Format, typer.Option("--format", help="markdown or json.")] = Format.MARKDOWN,
    output: Annotated[Path | None, typer.Option(help="Write to this file instead of the terminal.")] = None,
    retired: Annotated[bool, typer.Option(help="Include retired use cases.")] = True,
    config: ConfigOption = None,
) -> None:
    """The register: each use case's purpose, legal basis, AI Act risk class, owner, human review, the
    models that may serve it and where they process data. For a fundamental-rights impact assessment."""
    settings = settings_for(config)
    deployment = deployment_of(settings)

    async def read() -> dict[str, Any]:
        async with opened_store(settings, deployment) as (database, audit):
            cases = await UseCaseService(database, deployment, audit).list(tenant, retired=retired)
            keys = await KeyService(database, deployment, 0, audit).list(tenant)
        return register(deployment, cases, keys, datetime.now(UTC))

    document = run(read())
    written(document, output_format, markdown, output, f"{len(document['use_cases'])} use cases")
