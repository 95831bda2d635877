"""Usage and impact per day (UTC), tenant, use case and model: requests, tokens, latency and estimated
energy, aggregated by the store from the audit log, which already holds one record per model call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    String,
    Subquery,
    case,
    cast,
    column,
    func,
    select,
    true,
    type_coerce,
)

from souverain.config import EnergyConfig
from souverain.errors import InvalidRequest
from souverain.governance.audit.events import ModelCall
from souverain.store.database import Database
from souverain.store.models import AuditRecordRow

DEFAULT_DAYS = 30  # the period when none is given: the last 30 days, today included
MAX_DAYS = 366  # a year, leap or not; a longer period is read in several reports


@dataclass(frozen=True)
class Period:
    """Whole days in UTC, both included."""

    first_day: date
    last_day: date

    @classmethod
    def of(cls, first_day: date | None, last_day: date | None, today: date | None = None) -> Period:
        """The period asked for: by default up to today (UTC), and 30 days long; InvalidRequest when it
        runs backwards or spans more than MAX_DAYS."""
        last = last_day or today or datetime.now(UTC).date()
        # Bounded so that a `to` in the first days of year 1 does not overflow.
        first = first_day or last - timedelta(days=min(DEFAULT_DAYS - 1, (last - date.min).days))
        if first > last:
            raise InvalidRequest(f"`from` ({first}) is after `to` ({last})", param="from")
        days = (last - first).days + 1
        if days > MAX_DAYS:
            raise InvalidRequest(
                f"the period spans {days} days, a report at most {MAX_DAYS}: bring `from` and `to` closer",
                param="from",
            )
        return cls(first, last)

    def moments(self) -> tuple[datetime, datetime]:
        """The first and the last microsecond of the period, the store's resolution: both included."""
        return datetime.combine(self.first_day, time.min, UTC), datetime.combine(self.last_day, time.max, UTC)


@dataclass(frozen=True)
class UsageRow:
    """The model calls of one day, tenant, use case and model."""

    day: date
    tenant: str
    use_case: str | None
    model: str
    requests: int
    errors: int  # answered with an error: refused by policy or limits, or failed at the backends
    prompt_tokens: int
    completion_tokens: int
    # Over the requests answered without error (a refusal takes no time worth counting); None without any.
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    energy_wh: float | None  # None when the deployment gives the model no energy factor


@dataclass(frozen=True)
class UsageTotals:
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    latency_mean_ms: float | None
    # Over the models that have an energy factor only: the others are named below, never guessed.
    energy_wh: float | None
    models_without_energy_factor: tuple[str, ...]


@dataclass(frozen=True)
class UsageReport:
    first_day: date
    last_day: date
    tenant: str | None  # None: every tenant
    use_case: str | None  # None: every use case
    model: str | None  # None: every model
    rows: tuple[UsageRow, ...]  # by day, tenant, use case (none first) and model
    totals: UsageTotals


async def usage_report(
    database: Database,
    energy: EnergyConfig,
    period: Period,
    tenant: str | None = None,
    use_case: str | None = None,
    model: str | None = None,
) -> UsageReport:
    """The usage of the period, narrowed to a tenant, a use case and a model when they are given (an empty
    string, as a query string sends it, narrows nothing)."""
    tenant, use_case, model = tenant or None, use_case or None, model or None
    calls = _calls(database.is_sqlite, period, tenant, use_case, model)
    async with database.session() as session:
        grouped = (await session.execute(_aggregated(calls))).all()
    rows = sorted(
        (_row(found, energy) for found in grouped),
        key=lambda row: (row.day, row.tenant, row.use_case or "", row.model),
    )
    return UsageReport(period.first_day, period.last_day, tenant, use_case, model, tuple(rows), _totals(rows))


def _calls(
    is_sqlite: bool, period: Period, tenant: str | None, use_case: str | None, model: str | None
) -> Subquery:
    """One line per model call of the period: its group, whether it was answered, tokens and latency."""
    record = AuditRecordRow
    source, fields = _body_fields(is_sqlite)
    # SQLite keeps `at` as UTC text; PostgreSQL as a timestamp with time zone, read here in UTC.
    day = (
        func.date(record.at, type_=String)
        if is_sqlite
        else func.to_char(func.timezone("UTC", record.at), "YYYY-MM-DD", type_=String)
    )
    start, end = period.moments()
    conditions = [record.kind == ModelCall.kind, record.at >= start, record.at <= end]
    if tenant is not None:
        conditions.append(record.tenant == tenant)
    if use_case is not None:
        conditions.append(record.use_case == use_case)
    if model is not None:
        conditions.append(fields["model"] == model)
    return (
        select(
            day.label("day"),
            record.tenant.label("tenant"),
            record.use_case.label("use_case"),
            fields["model"].label("model"),
            case((record.status == "ok", 1), else_=0).label("answered"),
            fields["prompt_tokens"].label("prompt_tokens"),
            fields["completion_tokens"].label("completion_tokens"),
            fields["latency_ms"].label("latency_ms"),
        )
        .select_from(source)
        .where(*conditions)
        .subquery("calls")
    )


_BODY_FIELDS = {"model": String, "prompt_tokens": Integer, "completion_tokens": Integer, "latency_ms": Float}


def _body_fields(is_sqlite: bool) -> tuple[FromClause, dict[str, ColumnElement[Any]]]:
    """The fields of a record's body the report needs (the body is the record's source of truth; the
    other columns repeat only a few of its fields), and what to select them from."""
    table = AuditRecordRow.__table__
    if is_sqlite:
        body = type_coerce(AuditRecordRow.body, JSON)
        extracted = {
            "model": body["model"].as_string(),
            "prompt_tokens": body["prompt_tokens"].as_integer(),
            "completion_tokens": body["completion_tokens"].as_integer(),
            "latency_ms": body["latency_ms"].as_float(),
        }
        return table, extracted
    # The body parsed once per record: extracting each field from `body::jsonb` parses it once per field,
    # which made the report of 100,000 calls 4 times slower (bench/usage.py).
    parsed = (
        func.json_to_record(cast(AuditRecordRow.body, JSON))
        .table_valued(*(column(name, kind) for name, kind in _BODY_FIELDS.items()))
        .render_derived(name="fields", with_types=True)
    )
    return table.join(parsed, true()), {name: parsed.c[name] for name in _BODY_FIELDS}


def _aggregated(calls: Subquery) -> Select[Any]:
    """Sums and means by group, and the p50 and p95 latency of the answered calls.

    A percentile is the nearest rank: the smallest latency that at least p % of the group's answered
    calls do not exceed. `cume_dist` gives each call that share (the calls at or below its latency, over
    all of them), so the percentile is the smallest latency whose share reaches p. Both stores compute
    it alike, so the figures are exact latencies of calls, not interpolations, and the same on both."""
    peers = (calls.c.day, calls.c.tenant, calls.c.use_case, calls.c.model, calls.c.answered)
    share = func.cume_dist().over(partition_by=peers, order_by=calls.c.latency_ms)
    ranked = select(calls, share.label("share")).subquery("ranked")
    answered = ranked.c.answered == 1

    def nearest_rank(percent: int) -> ColumnElement[Any]:
        return func.min(case((answered & (ranked.c.share >= percent / 100), ranked.c.latency_ms)))

    keys = (ranked.c.day, ranked.c.tenant, ranked.c.use_case, ranked.c.model)
    return select(
        *keys,
        func.count().label("requests"),
        func.sum(1 - ranked.c.answered).label("errors"),
        func.sum(ranked.c.prompt_tokens).label("prompt_tokens"),
        func.sum(ranked.c.completion_tokens).label("completion_tokens"),
        func.avg(case((answered, ranked.c.latency_ms))).label("latency_mean_ms"),
        nearest_rank(50).label("latency_p50_ms"),
        nearest_rank(95).label("latency_p95_ms"),
    ).group_by(*keys)


def _row(found: Any, energy: EnergyConfig) -> UsageRow:
    factor = energy.factor(found.model)
    prompt, completion = int(found.prompt_tokens or 0), int(found.completion_tokens or 0)
    return UsageRow(
        day=date.fromisoformat(found.day),
        tenant=found.tenant,
        use_case=found.use_case,
        model=found.model,
        requests=int(found.requests),
        errors=int(found.errors),
        prompt_tokens=prompt,
        completion_tokens=completion,
        latency_mean_ms=_milliseconds(found.latency_mean_ms),
        latency_p50_ms=_milliseconds(found.latency_p50_ms),
        latency_p95_ms=_milliseconds(found.latency_p95_ms),
        energy_wh=None if factor is None else _watt_hours((prompt + completion) / 1000 * factor),
    )


def _totals(rows: list[UsageRow]) -> UsageTotals:
    answered = sum(row.requests - row.errors for row in rows)
    waited = sum((row.latency_mean_ms or 0.0) * (row.requests - row.errors) for row in rows)
    known = [row.energy_wh for row in rows if row.energy_wh is not None]
    return UsageTotals(
        requests=sum(row.requests for row in rows),
        errors=sum(row.errors for row in rows),
        prompt_tokens=sum(row.prompt_tokens for row in rows),
        completion_tokens=sum(row.completion_tokens for row in rows),
        latency_mean_ms=_milliseconds(waited / answered) if answered else None,
        energy_wh=_watt_hours(sum(known)) if known or not rows else None,
        models_without_energy_factor=tuple(sorted({row.model for row in rows if row.energy_wh is None})),
    )


def _milliseconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)  # the log keeps latencies to 0.01 ms


def _watt_hours(value: float) -> float:
    return round(value, 6)  # a microwatt-hour: finer digits are float noise, not information
