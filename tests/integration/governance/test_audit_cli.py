"""`souverain audit verify` as an auditor runs it: exit 0 intact, 1 naming the first bad record, 2 no log."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path

from souverain.governance.audit.events import ModelCall
from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database
from tests.integration.test_cli import SOUVERAIN


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOUVERAIN_")}
    env |= {"SOUVERAIN_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run(
        [SOUVERAIN, "audit", "verify"], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def fill(data: Path, records: int) -> None:
    database = Database(f"sqlite:///{data / 'souverain.db'}")
    database.migrate()
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    for number in range(records):
        await log.record(
            ModelCall(
                tenant="lu-health",
                principal="k1",
                role="member",
                endpoint="chat",
                model="m",
                classification="PUBLIC",
                prompt_tokens=number,
            )
        )
    await log.close()
    await database.close()


def test_verify_reports_intact_empty_tampered_and_missing_logs(tmp_path: Path) -> None:
    missing = verify(tmp_path / "nothing")
    assert missing.returncode == 2 and "no audit log" in missing.stderr

    asyncio.run(fill(tmp_path / "empty", 0))
    empty = verify(tmp_path / "empty")
    assert (empty.returncode, empty.stdout.strip()) == (0, "intact: the log is empty")

    asyncio.run(fill(tmp_path / "data", 12))
    intact = verify(tmp_path / "data")
    assert (intact.returncode, intact.stdout.strip()) == (0, "intact: 12 records")

    store = sqlite3.connect(tmp_path / "data" / "souverain.db")
    store.execute(
        "UPDATE audit_records SET body = replace(body, '\"prompt_tokens\":7', '\"prompt_tokens\":0')"
    )
    store.commit()
    store.close()
    tampered = verify(tmp_path / "data")
    assert tampered.returncode == 1
    assert "record 8: its content does not match its hash" in tampered.stderr
    assert "the 7 records before it are intact" in tampered.stderr
