"""`souverain usage report`: requests, tokens, latency and estimated energy by day, tenant, use case and
model, from the audit log; a Markdown table for people, JSON for programs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from souverain.cli_support import (
    ConfigOption,
    deployment_of,
    err,
    opened_database,
    run_on_audit_log,
    settings_for,
)
from souverain.cli_usecases import Format
from souverain.errors import InvalidRequest
from souverain.governance.usage import MAX_DAYS, Period, UsageReport, UsageRow, usage_report

usage_app = typer.Typer(help="Report usage and estimated energy from the audit log.", no_args_is_help=True)

DAY = {"formats": ["%Y-%m-%d"], "metavar": "YYYY-MM-DD"}


@usage_app.command("report")
def usage_report_command(
    start: Annotated[
        datetime | None,
        typer.Option("--from", help="First day (UTC). Default: 30 days up to --to.", **DAY),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(
            "--to", help=f"Last day (UTC), included; at most {MAX_DAYS} days. Default: today.", **DAY
        ),
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant. Default: every tenant.")] = None,
    use_case: Annotated[str | None, typer.Option(help="Only this use case.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    report_format: Annotated[
        Format, typer.Option("--format", help="markdown (a table to read) or json.")
    ] = Format.MARKDOWN,
    output: Annotated[Path | None, typer.Option(help="File to write. Default: standard output.")] = None,
    config: ConfigOption = None,
) -> None:
    """Requests, errors, tokens, latency and estimated energy per day, tenant, use case and model."""
    settings = settings_for(config)
    deployment = deployment_of(settings)

    async def report(period: Period) -> UsageReport:
        async with opened_database(settings) as database:
            return await usage_report(database, deployment.energy, period, tenant, use_case, model)

    try:
        period = Period.of(_day_of(start), _day_of(end))
    except InvalidRequest as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(2) from None
    found = run_on_audit_log(report(period))
    text = (
        markdown(found)
        if report_format is Format.MARKDOWN
        else orjson.dumps(found, option=orjson.OPT_INDENT_2).decode()
    )
    if output is None:
        print(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        err.print(f"[red]cannot write {output}[/red]: {error.strerror}")
        raise typer.Exit(2) from None
    err.print(f"wrote {output}")


def _day_of(moment: datetime | None) -> date | None:
    return None if moment is None else moment.date()


COLUMNS = (
    "day",
    "tenant",
    "use case",
    "model",
    "requests",
    "errors",
    "prompt tokens",
    "completion tokens",
    "latency mean / p50 / p95 (ms)",
    "energy (Wh)",
)
NOTES = (
    "Errors are requests refused (policy, limits) or failed (backends). Latency is over the requests "
    "answered without error; p50 and p95 are nearest-rank percentiles. Energy is estimated from the tokens "
    "and each model's factor in the deployment file (`energy`), and unknown for a model without one."
)


def markdown(report: UsageReport) -> str:
    """The report as a manager reads it: what it covers, the totals in a sentence, then the table."""
    chosen = (("Tenant", report.tenant), ("use case", report.use_case), ("model", report.model))
    scope = ", ".join(f"{what}: {value or 'all'}" for what, value in chosen)
    lines = [f"# Usage and impact, {report.first_day} to {report.last_day} (UTC)", "", scope, ""]
    if not report.rows:
        return "\n".join([*lines, "No model calls were recorded in this period."])
    lines += [_summary(report), "", "| " + " | ".join(COLUMNS) + " |", "|---|---|---|---|" + "---:|" * 6]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in report.rows]
    return "\n".join([*lines, "", NOTES])


def _summary(report: UsageReport) -> str:
    totals = report.totals
    tokens = totals.prompt_tokens + totals.completion_tokens
    text = (
        f"**{totals.requests:,} requests** ({totals.errors:,} with an error), **{tokens:,} tokens** "
        f"({totals.prompt_tokens:,} prompt, {totals.completion_tokens:,} completion)"
    )
    if totals.latency_mean_ms is not None:
        text += f", mean latency {_milliseconds(totals.latency_mean_ms)} ms"
    missing = ", ".join(totals.models_without_energy_factor)
    if totals.energy_wh is None:
        return text + f", energy unknown (no energy factor for {missing})."
    text += f", estimated energy **{_watt_hours(totals.energy_wh)} Wh**"
    return text + (f" (not counting {missing}: no energy factor)." if missing else ".")


def _cells(row: UsageRow) -> list[str]:
    latency = " / ".join(
        _milliseconds(value) for value in (row.latency_mean_ms, row.latency_p50_ms, row.latency_p95_ms)
    )
    return [
        str(row.day),
        _escaped(row.tenant),
        _escaped(row.use_case or "(none)"),
        _escaped(row.model),
        f"{row.requests:,}",
        f"{row.errors:,}",
        f"{row.prompt_tokens:,}",
        f"{row.completion_tokens:,}",
        latency,
        _watt_hours(row.energy_wh),
    ]


def _milliseconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _watt_hours(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.3f}"


def _escaped(text: str) -> str:
    # Names come from API keys and requests: a `|` would otherwise split the table's cells.
    return text.replace("|", "\\|")
