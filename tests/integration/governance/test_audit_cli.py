"""`souverain audit verify` as an auditor runs it: exit 0 intact, 1 naming the first bad record, 2 no log."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
from pathlib import Path

from souverain.store.database import Database
from tests.integration.governance.records import append
from tests.integration.test_cli import SOUVERAIN


def verify(data: Path) -> subprocess.CompletedProcess[str]:
    return run(data, "verify")


async def fill(data: Path, records: int) -> None:
    database = Database(f"sqlite:///{data / 'souverain.db'}")
    database.migrate()
    await append(database, records)
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


def run(data: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOUVERAIN_")}
    env |= {"SOUVERAIN_DATA_DIR": str(data), "COLUMNS": "200"}
    return subprocess.run(
        [SOUVERAIN, "audit", *arguments], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_an_export_is_verified_by_a_third_party_with_the_pinned_public_key(tmp_path: Path) -> None:
    site, third_party = tmp_path / "site", tmp_path / "third-party"
    asyncio.run(fill(site, 5))
    export = tmp_path / "audit-2026-11.jsonl"
    assert run(site, "export", "--from", "2026-01-01", "--output", str(export)).returncode == 0
    public = run(site, "public-key")
    (tmp_path / "site.pub").write_text(public.stdout)
    assert public.stdout.startswith("-----BEGIN PUBLIC KEY-----")

    # The third party has the file and the key, and no access to the site's store.
    checked = run(third_party, "verify", "--file", str(export), "--public-key", str(tmp_path / "site.pub"))
    assert checked.returncode == 0, checked.stderr
    assert "intact: 5 records of site demo, signed by the pinned key" in checked.stdout

    other_site = run(tmp_path / "other", "public-key")
    (tmp_path / "other.pub").write_text(other_site.stdout)
    refused = run(third_party, "verify", "--file", str(export), "--public-key", str(tmp_path / "other.pub"))
    assert refused.returncode == 1 and "signed by another key" in refused.stderr

    # The bodies are JSON text inside each JSON line: their quotes are escaped.
    export.write_text(export.read_text().replace('prompt_tokens\\":3', 'prompt_tokens\\":30'))
    tampered = run(third_party, "verify", "--file", str(export), "--public-key", str(tmp_path / "site.pub"))
    assert tampered.returncode == 1 and "record 4: its content does not match its hash" in tampered.stderr
