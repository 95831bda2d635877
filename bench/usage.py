"""Usage report benchmark: how long `usage_report` takes over an audit log of N model calls, on SQLite and
PostgreSQL (from the `pgserver` wheel, as the tests start it).

Method. A fresh store is filled through the real `AuditLog` (group commit) with N calls spread evenly over
30 days, two tenants, three use cases (one of them none), three models, one call in twenty refused, each
with random tokens and latency. Then the report of the 30 days is made for every tenant (all N calls, as
`souverain usage report` does by default) and for one tenant (half of them, as `/v1/usage` does), once to
warm up and then `--repeat` times; the median and the slowest are printed.

    python bench/usage.py [--records 100000] [--repeat 5] [--stores sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from knowledge_stores import postgres_database, postgres_server
from souverain.config import EnergyConfig
from souverain.governance.audit.events import Event, ModelCall
from souverain.governance.audit.log import AuditLog
from souverain.governance.usage import Period, usage_report
from souverain.store.database import Database

DAYS = 30
FIRST_DAY = date(2026, 3, 1)
TENANTS = ("lu-health", "eu-research")
USE_CASES = ("citizen-faq", "claim-triage", None)
MODELS = ("mistral-small", "mistral-7b", "multilingual-e5-small")
ENERGY = EnergyConfig(wh_per_1k_tokens={"mistral-small": 0.3, "mistral-7b": 0.15})


def calls(count: int) -> list[tuple[datetime, Event]]:
    pick = random.Random(1)
    start = datetime.combine(FIRST_DAY, datetime.min.time(), UTC)
    step = timedelta(days=DAYS) / count
    made: list[tuple[datetime, Event]] = []
    for number in range(count):
        refused = number % 20 == 0
        event = ModelCall(
            tenant=TENANTS[number % len(TENANTS)],
            principal=f"key{number % 7}",
            role="member",
            use_case=USE_CASES[number % len(USE_CASES)],
            status="rate_limit_exceeded" if refused else "ok",
            endpoint="chat",
            model=MODELS[number % len(MODELS)],
            classification="INTERNAL",
            backend=None if refused else "mistral-lu",
            jurisdiction=None if refused else "LU",
            prompt_tokens=0 if refused else pick.randint(20, 2000),
            completion_tokens=0 if refused else pick.randint(1, 800),
            latency_ms=0.0 if refused else round(pick.lognormvariate(6, 0.6), 2),
            input_hash="ab" * 32,
            output_hash=None if refused else "cd" * 32,
            decisions=("refused:rate_limit_exceeded",) if refused else ("route:mistral-lu",),
        )
        made.append((start + step * number, event))
    return made


async def fill(database: Database, events: list[tuple[datetime, Event]]) -> float:
    moments = iter([moment for moment, _ in events])
    log = AuditLog(database, "bench", clock=lambda: next(moments))
    await log.start()
    started = time.perf_counter()
    for offset in range(0, len(events), 10_000):  # queued together, written in batches of MAX_BATCH
        await asyncio.gather(*(log.submit(event) for _, event in events[offset : offset + 10_000]))
    await log.close()
    return time.perf_counter() - started


async def timed(database: Database, tenant: str | None, repeat: int) -> tuple[list[float], int]:
    period = Period(FIRST_DAY, FIRST_DAY + timedelta(days=DAYS - 1))
    seconds, requests = [], 0
    for attempt in range(repeat + 1):
        started = time.perf_counter()
        report = await usage_report(database, ENERGY, period, tenant=tenant)
        if attempt:  # the first one warms the caches up
            seconds.append(time.perf_counter() - started)
        requests = report.totals.requests
    return seconds, requests


async def measure(store: str, url: str, records: int, repeat: int) -> None:
    database = Database(url)
    database.migrate()
    try:
        filled = await fill(database, calls(records))
        print(f"{store}: {records:,} records written in {filled:.1f} s")
        for tenant in (None, TENANTS[0]):
            seconds, requests = await timed(database, tenant, repeat)
            print(
                f"  report of {tenant or 'every tenant'} ({requests:,} calls): median "
                f"{statistics.median(seconds) * 1000:,.0f} ms, slowest {max(seconds) * 1000:,.0f} ms"
            )
    finally:
        await database.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--stores", default="sqlite,postgresql")
    options = parser.parse_args()
    stores = options.stores.split(",")
    with tempfile.TemporaryDirectory(prefix="souverain-bench-usage-") as folder:
        if "sqlite" in stores:
            url = f"sqlite:///{Path(folder) / 'usage.db'}"
            asyncio.run(measure("SQLite", url, options.records, options.repeat))
        if "postgresql" in stores:
            with postgres_server() as server, postgres_database(server.url, "bench_usage") as url:
                asyncio.run(measure("PostgreSQL", url, options.records, options.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
