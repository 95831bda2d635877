"""Turn the phases of one bench/gateway.py run into a Markdown report and pass/fail lines per target.

Every comparison uses phases of the same run, measured side by side, never figures from another day.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

TARGET_LABELS = {
    "direct": "direct to fake",
    "souverain": "souverain",
    "souverain-unaudited": "souverain, audit log off",
    "litellm": "LiteLLM proxy",
}
MODE_LABELS = {"plain": "non-streaming", "stream": "streaming"}

# The targets of the issue: what souverain must achieve on this 2-core machine.
MAX_ADDED_P50_MS = 1.0
MIN_RPS_AT_64 = 1000.0
MIN_RATIO_TO_LITELLM = 10.0
MAX_CPU_MS_PER_REQUEST = 1.0
MAX_AUDIT_SHARE_AT_16 = 0.10  # what auditing may add to p50 latency at concurrency 16


@dataclass
class Verdict:
    target: str
    value: str
    status: str  # PASS, FAIL or SKIP


def find(phases: list[dict[str, Any]], target: str, mode: str, concurrency: int) -> dict[str, Any] | None:
    for phase in phases:
        if (phase["target"], phase["mode"], phase["concurrency"]) == (target, mode, concurrency):
            return phase
    return None


def _cell(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _core_share(phase: dict[str, Any]) -> float | None:
    """The share of one core the proxy used: near 100% it is CPU-bound, well below it waits or is starved."""
    cpu = phase["cpu_ms_per_request"].get("proxy")
    return None if cpu is None else cpu * phase["rps"] / 1000


def phase_table(phases: list[dict[str, Any]]) -> str:
    header = (
        "| mode | conc. | target | req/s | p50 ms | p99 ms | TTFT p50 ms | TTFT p99 ms | errors "
        "| proxy CPU ms/req | proxy CPU use | fake CPU ms/req | loadgen CPU ms/req | machine busy |"
    )
    lines = [header, "|" + "---|" * 14]
    for phase in phases:
        cpu = phase["cpu_ms_per_request"]
        busy = phase["machine_cpu_busy"]
        lines.append(
            f"| {MODE_LABELS[phase['mode']]} | {phase['concurrency']} | {TARGET_LABELS[phase['target']]} "
            f"| {_cell(phase['rps'], 0)} | {_cell(phase['latency_ms']['p50'])} "
            f"| {_cell(phase['latency_ms']['p99'])} "
            f"| {_cell(phase['ttft_ms']['p50'])} | {_cell(phase['ttft_ms']['p99'])} | {phase['errors']} "
            f"| {_cell(cpu.get('proxy'), 3)} | {_percent(_core_share(phase))} | {_cell(cpu.get('fake'), 3)} "
            f"| {_cell(cpu.get('loadgen'), 3)} | {_percent(busy)} |"
        )
    return "\n".join(lines)


def derive(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Added latency at concurrency 1, throughput ratios at 64, CPU per request, per mode."""
    derived: dict[str, Any] = {}
    for mode in MODE_LABELS:
        figures: dict[str, Any] = {}
        direct, gateway = find(phases, "direct", mode, 1), find(phases, "souverain", mode, 1)
        if direct and gateway:
            metric = "ttft_ms" if mode == "stream" else "latency_ms"
            for percentile in ("p50", "p99"):
                if direct[metric][percentile] is not None and gateway[metric][percentile] is not None:
                    added = gateway[metric][percentile] - direct[metric][percentile]
                    figures[f"added_{percentile}_ms_at_1"] = round(added, 3)
        gateway, litellm = find(phases, "souverain", mode, 64), find(phases, "litellm", mode, 64)
        if gateway:
            figures["souverain_rps_at_64"] = gateway["rps"]
        if gateway and litellm and litellm["rps"]:
            figures["souverain_over_litellm_rps_at_64"] = round(gateway["rps"] / litellm["rps"], 2)
            # Requests per CPU-second: the same comparison, insensitive to what else the machine runs.
            own, theirs = (
                gateway["cpu_ms_per_request"].get("proxy"),
                litellm["cpu_ms_per_request"].get("proxy"),
            )
            if own and theirs:
                figures["litellm_over_souverain_cpu_per_request_at_64"] = round(theirs / own, 2)
        audited = find(phases, "souverain", mode, 16)
        unaudited = find(phases, "souverain-unaudited", mode, 16)
        if audited and unaudited and unaudited["latency_ms"]["p50"]:
            # Whole-response latency also when streaming: the record is written before the stream's end.
            added = audited["latency_ms"]["p50"] - unaudited["latency_ms"]["p50"]
            figures["audit_added_p50_share_at_16"] = round(added / unaudited["latency_ms"]["p50"], 3)
        direct = find(phases, "direct", mode, 64)
        if gateway and direct and direct["rps"]:
            figures["souverain_over_direct_rps_at_64"] = round(gateway["rps"] / direct["rps"], 3)
        cpu = [
            phase["cpu_ms_per_request"].get("proxy")
            for phase in phases
            if phase["target"] == "souverain" and phase["mode"] == mode
        ]
        known = [value for value in cpu if value is not None]
        if known:
            figures["souverain_cpu_ms_per_request_max"] = max(known)
        derived[mode] = figures
    derived["errors"] = {
        target: sum(phase["errors"] for phase in phases if phase["target"] == target)
        for target in TARGET_LABELS
        if any(phase["target"] == target for phase in phases)
    }
    return derived


def _check(name: str, value: float | None, limit: float, at_most: bool, unit: str) -> Verdict:
    if value is None:
        return Verdict(name, "not measured", "SKIP")
    passed = value <= limit if at_most else value >= limit
    shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return Verdict(name, shown + unit, "PASS" if passed else "FAIL")


def verdicts(derived: dict[str, Any]) -> list[Verdict]:
    results: list[Verdict] = []
    for mode, label in MODE_LABELS.items():
        figures = derived.get(mode, {})
        what = "TTFT" if mode == "stream" else "latency"
        results += [
            _check(
                f"{label}: added p50 {what} at concurrency 1 ≤ {MAX_ADDED_P50_MS:g} ms",
                figures.get("added_p50_ms_at_1"),
                MAX_ADDED_P50_MS,
                True,
                " ms",
            ),
            _check(
                f"{label}: ≥ {MIN_RPS_AT_64:,.0f} req/s at concurrency 64",
                figures.get("souverain_rps_at_64"),
                MIN_RPS_AT_64,
                False,
                " req/s",
            ),
            _check(
                f"{label}: ≥ {MIN_RATIO_TO_LITELLM:g}x LiteLLM's req/s at concurrency 64",
                figures.get("souverain_over_litellm_rps_at_64"),
                MIN_RATIO_TO_LITELLM,
                False,
                "x",
            ),
            _check(
                f"{label}: souverain CPU ≤ {MAX_CPU_MS_PER_REQUEST:g} ms per request (worst phase)",
                figures.get("souverain_cpu_ms_per_request_max"),
                MAX_CPU_MS_PER_REQUEST,
                True,
                " ms",
            ),
            _check(
                f"{label}: the audit log adds ≤ {MAX_AUDIT_SHARE_AT_16:.0%} to p50 latency at concurrency 16",
                figures.get("audit_added_p50_share_at_16"),
                MAX_AUDIT_SHARE_AT_16,
                True,
                "",
            ),
        ]
    errors = derived["errors"].get("souverain")
    results.append(_check("zero errors through souverain (all phases)", errors, 0, True, ""))
    return results


def derived_lines(derived: dict[str, Any]) -> str:
    """The derived figures, one bullet each, in the order a reader checks them."""
    names = {
        "added_p50_ms_at_1": "added p50 at concurrency 1 (ms; TTFT when streaming)",
        "added_p99_ms_at_1": "added p99 at concurrency 1 (ms; TTFT when streaming)",
        "souverain_rps_at_64": "souverain req/s at concurrency 64",
        "souverain_over_direct_rps_at_64": "souverain req/s / direct req/s at concurrency 64",
        "souverain_over_litellm_rps_at_64": "souverain req/s / LiteLLM req/s at concurrency 64",
        "litellm_over_souverain_cpu_per_request_at_64": "LiteLLM CPU per request / souverain's (c=64)",
        "souverain_cpu_ms_per_request_max": "souverain CPU ms per request, worst phase",
        "audit_added_p50_share_at_16": "p50 latency added by the audit log at concurrency 16 (share)",
    }
    lines = []
    for mode, label in MODE_LABELS.items():
        for key, value in derived.get(mode, {}).items():
            lines.append(f"- {label}: {names.get(key, key)}: **{value:,}**")
    errors = ", ".join(f"{TARGET_LABELS[target]} {count}" for target, count in derived["errors"].items())
    lines.append(f"- errors, all phases: {errors}")
    return "\n".join(lines)


def verdict_table(results: list[Verdict]) -> str:
    lines = ["| target | measured | result |", "|---|---|---|"]
    lines += [f"| {verdict.target} | {verdict.value} | **{verdict.status}** |" for verdict in results]
    return "\n".join(lines)


def as_json(results: list[Verdict]) -> list[dict[str, str]]:
    return [asdict(verdict) for verdict in results]
