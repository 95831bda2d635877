"""`souverain privacy purge` and `ropa` as an operator and a data-protection officer run them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from sqlalchemy import update

from souverain.store.database import Database
from souverain.store.models import AuditRecordRow
from tests.integration.conftest import RunningGateway
from tests.integration.governance.records import fill_store, logged_bodies, model_call
from tests.integration.served import souverain
from tests.integration.test_admin_api import bearer

DEPLOYMENT = """
site: {name: lu-gov-1, jurisdiction: LU}
tenants:
  - name: lu-health
    residency: [LU]
    retention: {records_days: 30, conversations_days: 30}
  - {name: lu-defence, residency: [LU]}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The deployment file, in the data folder the tests' commands use (`tmp_path`)."""
    path = tmp_path / "deploy.yaml"
    path.write_text(DEPLOYMENT, encoding="utf-8")
    return path


@pytest.fixture
def three_calls(tmp_path: Path) -> None:
    """Model calls of lu-health made 90, 60 and 1 days ago: the first two past its 30 days."""
    now = datetime.now(UTC)
    fill_store(tmp_path, [(now - timedelta(days=days), model_call(days)) for days in (90, 60, 1)])


def bodies(data: Path) -> list[dict[str, object]]:
    found, _ = logged_bodies(f"sqlite:///{data / 'souverain.db'}")
    return found


def as_stub(body: str) -> str:
    """A record's body reduced to the stub a purge leaves, marked purged."""
    kept = orjson.loads(body)
    forged = {name: kept[name] for name in ("seq", "prev", "at", "site", "kind", "tenant", "status")}
    return orjson.dumps(forged | {"purged": True}, option=orjson.OPT_SORT_KEYS).decode()


@pytest.mark.usefixtures("three_calls")
def test_purge_then_the_log_still_verifies(tmp_path: Path, config: Path) -> None:
    dry = souverain("privacy", "purge", "--dry-run", "--config", str(config), data_dir=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "lu-health records: would purge 2 request records" in dry.stdout
    assert "lu-defence records: kept until deleted" in dry.stdout
    assert not any(body.get("purged") for body in bodies(tmp_path))

    done = souverain("privacy", "purge", "--config", str(config), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "lu-health records: purged 2 request records" in done.stdout
    found = bodies(tmp_path)
    assert [bool(body.get("purged")) for body in found[:3]] == [True, True, False]
    assert found[-1]["kind"] == "purge" and found[-1]["principal"] == "cli"

    verified = souverain("audit", "verify", data_dir=tmp_path)
    assert (verified.returncode, verified.stdout.strip()) == (0, f"intact: {len(found)} records")

    export = tmp_path / "export.jsonl"
    exported = souverain("audit", "export", "--output", str(export), data_dir=tmp_path)
    assert exported.returncode == 0, exported.stderr
    checked = souverain("audit", "verify", "--file", str(export), data_dir=tmp_path)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.usefixtures("three_calls")
def test_a_purged_record_unmarked_or_forged_in_an_export_is_found(tmp_path: Path, config: Path) -> None:
    assert souverain("privacy", "purge", "--config", str(config), data_dir=tmp_path).returncode == 0
    export = tmp_path / "export.jsonl"
    assert souverain("audit", "export", "--output", str(export), data_dir=tmp_path).returncode == 0
    lines = export.read_text().splitlines(keepends=True)
    young = orjson.loads(lines[3])  # record 3, not purged: passed off as purged in the file
    young["body"] = as_stub(young["body"])
    export.write_text("".join([*lines[:3], orjson.dumps(young).decode() + "\n", *lines[4:]]))
    checked = souverain("audit", "verify", "--file", str(export), data_dir=tmp_path)
    assert checked.returncode == 1
    assert "purged are not those the checkpoint signs" in checked.stderr


@pytest.mark.usefixtures("three_calls")
def test_a_stub_without_its_purge_event_fails_the_stores_verification(tmp_path: Path, config: Path) -> None:
    assert souverain("privacy", "purge", "--config", str(config), data_dir=tmp_path).returncode == 0

    async def unmark() -> None:  # the purge event names 2 records; one more stub is passed off
        database = Database(f"sqlite:///{tmp_path / 'souverain.db'}")
        async with database.session() as session, session.begin():
            row = await session.get(AuditRecordRow, 3)
            assert row is not None
            stub = as_stub(row.body)
            await session.execute(
                update(AuditRecordRow).where(AuditRecordRow.seq == 3).values(body=stub, principal="")
            )
        await database.close()

    asyncio.run(unmark())
    verified = souverain("audit", "verify", data_dir=tmp_path)
    assert verified.returncode == 1
    assert "record 3: was reduced to a stub (purged) but no purge event covers it" in verified.stderr


def test_ropa_as_markdown_and_json(tmp_path: Path, config: Path) -> None:
    text = souverain("privacy", "ropa", "--config", str(config), data_dir=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "## Tenant lu-health" in text.stdout and "| records | " in text.stdout
    assert "embedded-e5 (in-process at the site), processing in LU" in text.stdout
    output = tmp_path / "ropa.json"
    written = souverain(
        "privacy",
        "ropa",
        "--tenant",
        "lu-defence",
        "--format",
        "json",
        "--output",
        str(output),
        "--config",
        str(config),
        data_dir=tmp_path,
    )
    assert written.returncode == 0, written.stderr
    document = json.loads(output.read_text())
    assert [tenant["name"] for tenant in document["tenants"]] == ["lu-defence"]
    assert {item["retention"] for item in document["tenants"][0]["stored"]} == {"kept until deleted"}


def test_ropa_over_http_for_admins_and_auditors_only(gateway_factory: Callable[..., RunningGateway]) -> None:
    gateway = gateway_factory(
        {
            "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
            "tenants": [
                {"name": "lu-health", "residency": ["LU"], "retention": {"records_days": 30}},
                {"name": "lu-defence", "residency": ["LU"]},
            ],
        }
    )
    url = gateway.api + "/privacy/ropa"
    for role in ("admin", "auditor"):
        headers = bearer(gateway.create_key("lu-health", role=role))
        found = httpx.get(url, headers=headers)
        assert found.status_code == 200, found.text
        assert [tenant["name"] for tenant in found.json()["tenants"]] == ["lu-health"]
        text = httpx.get(url, params={"format": "markdown"}, headers=headers)
        assert text.headers["content-type"].startswith("text/markdown") and "365" not in text.text
        assert "| records | " in text.text and "30 days" in text.text
    member = bearer(gateway.create_key("lu-health"))
    assert httpx.get(url, headers=member).status_code == 403
