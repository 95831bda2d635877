"""`souverain usage report` as an operator runs it: a Markdown table a manager can read, JSON for programs,
and a clear refusal of a bad period or a store without an audit log."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import orjson

from tests.integration.governance.records import at, fill_store, usage_call
from tests.integration.test_cli import SOUVERAIN

DEPLOYMENT = """\
site: {name: test-site, jurisdiction: LU}
backends:
  - name: lu
    kind: openai
    url: http://127.0.0.1:9/v1
    models: [mistral-small, e5-small]
    jurisdiction: LU
tenants:
  - {name: lu-health, residency: [LU], models: [mistral-small, e5-small]}
  - {name: eu-research, residency: [EU], models: [mistral-small]}
energy:
  wh_per_1k_tokens: {mistral-small: 0.5}
"""


CALLS = [
    (at("2026-03-01T08:00:00"), usage_call(tokens=(1200, 800), latency_ms=120)),
    (at("2026-03-01T09:00:00"), usage_call(tokens=(300, 200), latency_ms=80)),
    (at("2026-03-01T10:00:00"), usage_call(status="rate_limit_exceeded")),
    (at("2026-03-01T11:00:00"), usage_call(model="e5-small", use_case=None, tokens=(4000, 0), latency_ms=9)),
    (at("2026-03-02T08:00:00"), usage_call(tenant="eu-research", tokens=(10, 10), latency_ms=50)),
]


def report(data: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    data.mkdir(exist_ok=True)
    (data / "deploy.yaml").write_text(DEPLOYMENT, encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("SOUVERAIN_")}
    env |= {"SOUVERAIN_DATA_DIR": str(data), "SOUVERAIN_CONFIG": str(data / "deploy.yaml"), "COLUMNS": "200"}
    return subprocess.run(
        [SOUVERAIN, "usage", "report", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_markdown_report_a_manager_can_read(tmp_path: Path) -> None:
    fill_store(tmp_path, CALLS)

    done = report(tmp_path, "--from", "2026-03-01", "--to", "2026-03-02", "--tenant", "lu-health")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "# Usage and impact, 2026-03-01 to 2026-03-02 (UTC)"
    assert "Tenant: lu-health, use case: all, model: all" in lines
    assert (
        "**4 requests** (1 with an error), **6,500 tokens** (5,500 prompt, 1,000 completion), "
        "mean latency 69.7 ms, estimated energy **1.250 Wh** (not counting e5-small: no energy factor)."
    ) in lines
    assert (
        "| 2026-03-01 | lu-health | (none) | e5-small | 1 | 0 | 4,000 | 0 | 9.0 / 9.0 / 9.0 | unknown |"
        in lines
    )
    assert (
        "| 2026-03-01 | lu-health | citizen-faq | mistral-small | 3 | 1 | 1,500 | 1,000 "
        "| 100.0 / 80.0 / 120.0 | 1.250 |"
    ) in lines
    assert not any("eu-research" in line for line in lines)


def test_a_json_report_written_to_a_file(tmp_path: Path) -> None:
    fill_store(tmp_path, CALLS)
    output = tmp_path / "usage-march.json"

    done = report(
        tmp_path, "--from", "2026-03-01", "--to", "2026-03-31", "--format", "json", "--output", str(output)
    )

    assert done.returncode == 0, done.stderr
    written = orjson.loads(output.read_text())
    assert (written["first_day"], written["last_day"], written["tenant"]) == (
        "2026-03-01",
        "2026-03-31",
        None,
    )
    assert [(row["day"], row["tenant"], row["model"], row["energy_wh"]) for row in written["rows"]] == [
        ("2026-03-01", "lu-health", "e5-small", None),
        ("2026-03-01", "lu-health", "mistral-small", 1.25),
        ("2026-03-02", "eu-research", "mistral-small", 0.01),
    ]
    assert written["totals"] | {"latency_mean_ms": None} == {
        "requests": 5,
        "errors": 1,
        "prompt_tokens": 5510,
        "completion_tokens": 1010,
        "latency_mean_ms": None,
        "energy_wh": 1.26,
        "models_without_energy_factor": ["e5-small"],
    }


def test_a_bad_period_or_a_store_without_audit_log_is_refused(tmp_path: Path) -> None:
    backwards = report(tmp_path, "--from", "2026-03-02", "--to", "2026-03-01")
    assert backwards.returncode == 2 and "`from` (2026-03-02) is after `to` (2026-03-01)" in backwards.stderr

    not_a_day = report(tmp_path, "--from", "March 1st")
    assert not_a_day.returncode == 2 and "--from" in not_a_day.stderr

    empty_store = report(tmp_path / "nothing")
    assert empty_store.returncode == 2 and "no audit log" in empty_store.stderr
