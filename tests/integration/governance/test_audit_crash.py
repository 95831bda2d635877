"""`souverain serve` killed with SIGKILL under load loses nothing it acknowledged: after a restart, every
call whose caller got its answer (a 2xx, or a stream up to `[DONE]`) has its audit record, and the chain
verifies."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import pytest

from souverain.config import Settings
from souverain.governance.audit.chain import Stored
from souverain.governance.audit.events import ContentHasher
from souverain.governance.audit.keys import audit_key
from souverain.governance.audit.log import stored_records
from souverain.store.database import Database
from souverain.testing.fake_backend import FakeBackend, Faults
from tests.integration.served import create_key, serve, souverain

CALLERS = 12  # concurrent callers, each with one call under way at a time
ANSWERED_BEFORE_KILL = 60  # answers the callers have had when the server is killed
Messages = list[dict[str, str]]
DEPLOYMENT = """\
site: {{name: lu-gov-1, jurisdiction: LU}}
backends:
  - {{name: vllm-lu, kind: openai, url: "{url}", models: [m], jurisdiction: LU}}
tenants:
  - {{name: lu-health, residency: [LU], models: [m]}}
"""


@dataclass(frozen=True)
class Call:
    messages: Messages
    streamed: bool


@dataclass
class Load:
    """What the callers saw."""

    answered: list[Call] = field(default_factory=list)  # a 2xx, or a stream read up to [DONE]
    cut: list[Call] = field(default_factory=list)  # under way when the server was killed, never answered
    killed: bool = False


@pytest.fixture
def fake() -> Iterator[FakeBackend]:
    backend = FakeBackend().start_in_thread()
    # Answers that take a few milliseconds, streams a few more: the kill finds calls at every stage.
    backend.faults = Faults(mode="slow_first_byte", delay=0.01, chunk_delay=0.005)
    yield backend
    backend.stop()


def messages(caller: int, turn: int) -> Messages:
    return [{"role": "user", "content": f"Appel {caller}-{turn} : le dossier est-il complet ?"}]


async def answered(client: httpx.AsyncClient, call: Call) -> None:
    """Returns once the caller has its answer; a transport error when the server dies first."""
    body = {"model": "m", "messages": call.messages, "stream": call.streamed}
    async with client.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200, await response.aread()
        if not call.streamed:
            await response.aread()
            return
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                return
    raise AssertionError(f"a stream ended without [DONE] while the server was up: {call}")


async def caller(client: httpx.AsyncClient, number: int, load: Load, enough: asyncio.Event) -> None:
    """Calls, streamed every other time, until the server dies under one of them."""
    turn = 0
    while True:
        call = Call(messages(number, turn), streamed=(number + turn) % 2 == 1)
        under_way_at_kill = not load.killed
        try:
            await answered(client, call)
        except httpx.TransportError:
            if not load.killed:
                raise  # a connection dropped by a live server: a failure of its own
            if under_way_at_kill:
                load.cut.append(call)
            return
        load.answered.append(call)
        if len(load.answered) >= ANSWERED_BEFORE_KILL:
            enough.set()
        turn += 1


async def load_then_kill(api: str, key: str, server: subprocess.Popen[str]) -> Load:
    load, enough = Load(), asyncio.Event()
    limits = httpx.Limits(max_connections=CALLERS)
    headers = {"Authorization": f"Bearer {key}"}
    async with (
        httpx.AsyncClient(base_url=api, headers=headers, limits=limits, timeout=30) as client,
        asyncio.TaskGroup() as callers,
    ):
        for number in range(CALLERS):
            callers.create_task(caller(client, number, load, enough))
        async with asyncio.timeout(60):
            await enough.wait()
        server.send_signal(signal.SIGKILL)
        load.killed = True
    return load


async def read_records(url: str) -> list[Stored]:
    database = Database(url)
    try:
        return [record async for record in stored_records(database)]
    finally:
        await database.close()


def test_a_server_killed_under_load_kept_the_record_of_every_answered_call(
    fake: FakeBackend, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOUVERAIN_DATABASE_URL", database_url)  # inherited by every `souverain` run
    config, data = tmp_path / "deployment.yaml", tmp_path / "data"
    config.write_text(DEPLOYMENT.format(url=fake.url))
    key = create_key("lu-health", data, config)
    with serve(data, config) as running:
        load = asyncio.run(load_then_kill(running.api, key, running.process))
        assert running.process.wait(15) == -signal.SIGKILL
    assert len(load.answered) >= ANSWERED_BEFORE_KILL
    assert load.cut, "no call was under way when the server was killed: the test crashed nothing"

    # The restarted server goes on with the same chain.
    after = Call(messages(CALLERS, 0), streamed=False)
    with serve(data, config) as restarted:
        response = httpx.post(
            restarted.api + "/chat/completions",
            json={"model": "m", "messages": after.messages},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == 200, response.text

    records = asyncio.run(read_records(database_url))
    verified = souverain("audit", "verify", "--config", str(config), data_dir=data)
    assert (verified.returncode, verified.stdout.strip()) == (0, f"intact: {len(records)} records")

    hasher = ContentHasher(audit_key(Settings(data_dir=data)))
    recorded: dict[str, tuple[str, bool]] = {}
    for record in records:
        body = orjson.loads(record.body)
        if body["kind"] == "model_call":  # the key's creation is recorded too
            recorded[body["input_hash"]] = (body["status"], body["streamed"])

    def input_hash(call: Call) -> str:  # as the gateway hashes a request's messages
        return hasher(orjson.dumps(call.messages, option=orjson.OPT_SORT_KEYS))

    def outcome(call: Call) -> tuple[str, bool] | None:
        return recorded.get(input_hash(call))

    missing = [call for call in load.answered if outcome(call) != ("ok", call.streamed)]
    assert not missing, f"{len(missing)} of {len(load.answered)} answered calls unrecorded: {missing[:2]}"
    assert outcome(after) == ("ok", False)
    assert orjson.loads(records[-1].body)["input_hash"] == input_hash(after)
