"""With PostgreSQL, limits hold across server processes: separate OS processes share one count."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from souverain.errors import RateLimited
from souverain.store.database import Database
from souverain.store.repositories import RateCounterRepository
from souverain.tenancy.limits.base import MINUTE, Bucket
from souverain.tenancy.limits.store import StoreRateLimiter

PROCESSES = 3
ATTEMPTS_PER_PROCESS = 80  # made by 4 concurrent tasks, so each process also races itself
WINDOW = 1_700_000_040

# One server process: connects, says "ready", waits for "go", then admits as fast as it can.
# Its own key bucket (roomy) comes before the shared tenant bucket, as on a real request.
WORKER = """
import asyncio, json, sys
from souverain.errors import RateLimited
from souverain.errors import RateLimited
from souverain.store.database import Database
from souverain.store.repositories import RateCounterRepository
from souverain.tenancy.limits.base import Bucket
from souverain.tenancy.limits.store import StoreRateLimiter

async def main(url, key_scope, tenant_limit, attempts, now):
    database = Database(url)
    limiter = StoreRateLimiter(database)
    buckets = (Bucket(key_scope, 60, 10_000, None), Bucket("tenant:shared", 60, tenant_limit, None))
    await database.ping()
    print("ready", flush=True)
    sys.stdin.readline()
    admitted = refused = 0

    async def hammer(count):
        nonlocal admitted, refused
        for _ in range(count):
            try:
                await limiter.admit(buckets, now)
                admitted += 1
            except RateLimited:
                refused += 1

    await asyncio.gather(*(hammer(attempts // 4) for _ in range(4)))
    await database.close()
    print(json.dumps({"admitted": admitted, "refused": refused}), flush=True)

url, key_scope, tenant_limit, attempts, now = sys.argv[1:]
asyncio.run(main(url, key_scope, int(tenant_limit), int(attempts), float(now)))
"""


def run_workers(url: str, tenant_limit: int) -> list[dict[str, int]]:
    arguments = [str(tenant_limit), str(ATTEMPTS_PER_PROCESS), str(WINDOW + 30)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, f"key:{index}", *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for index in range(PROCESSES)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:  # start them together, so that they race
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outputs = [worker.communicate(timeout=60)[0] for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [worker.returncode for worker in workers] == [0] * PROCESSES
    return [json.loads(output) for output in outputs]


async def counted(database: Database, bucket: Bucket) -> int:
    async with database.session() as session:
        requests, _ = await RateCounterRepository(session).usage(
            bucket.scope, bucket.window_seconds, bucket.window_start(WINDOW)
        )
    return requests


@pytest.mark.postgres
@pytest.mark.parametrize("tenant_limit", [1, 137])
async def test_processes_together_admit_exactly_the_limit(postgres_url: str, tenant_limit: int) -> None:
    database = Database(postgres_url)
    database.migrate()
    try:
        results = run_workers(postgres_url, tenant_limit)

        assert sum(result["admitted"] for result in results) == tenant_limit
        attempts = sum(result["admitted"] + result["refused"] for result in results)
        assert attempts == PROCESSES * ATTEMPTS_PER_PROCESS
        assert await counted(database, Bucket("tenant:shared", MINUTE, tenant_limit, None)) == tenant_limit
        # A request refused by the tenant's bucket is not counted in its key's either.
        for index, result in enumerate(results):
            assert await counted(database, Bucket(f"key:{index}", MINUTE, 10_000, None)) == result["admitted"]
        # And the next request, from this process, is refused too.
        with pytest.raises(RateLimited):
            await StoreRateLimiter(database).admit(
                (Bucket("tenant:shared", MINUTE, tenant_limit, None),), WINDOW + 31
            )
    finally:
        await database.close()
