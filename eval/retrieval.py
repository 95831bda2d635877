"""Retrieval quality of the knowledge module on public QA data: XQuAD (en, de, es) and PIAF (fr).

Method. Every passage of every language is ingested, each as one plain-text document, into ONE
collection of an in-process souverain (SQLite in a temporary folder by default, PostgreSQL with
`--database-url`). Each question is then asked three ways, top 10: the lexical retriever alone
(`index.lexical`), the vector retriever alone (`index.vector`), and the real hybrid search
(`Searcher.search`: it embeds the question, takes 50 candidates from each retriever and fuses them with
`knowledge.fusion.fuse`). A question's gold is the passage of its `gold_doc_id` in its own language. For the
cross-lingual figures (de and es questions) it is the ENGLISH passage of the same doc_id: once in the
collection of all languages, where the question's own-language translation of the passage competes, and
once in a second collection of the English passages only. The rank of the gold is the position of its
first chunk in the list. Reported: recall@1, @5, @10 and MRR@10 per language and retriever, ingestion
time, question embedding time and search time.

Question vectors are embedded in batches beforehand through the gateway's own `embed_texts` and
remembered (harness.EmbeddingMemo, kept in eval/results/cache/ across runs); `Searcher.search` then runs
unchanged and gets the remembered vector. A sample of searches is also timed with the memo off, end to
end. For tuning, none of which changes the hybrid figure: `--lexical-variants` re-runs the lexical
retriever with other FTS5 query constructions; `--sweep` re-fuses the candidate lists offline with other
RRF constants, candidate counts and vector weights, and by normalised scores instead of ranks;
`--title-in-text` ingests each passage with its title as first line.

Prints a Markdown report and writes every figure, and each question's ranks, as JSON to eval/results/.
Exit status: 0 when every target holds, 1 when one fails.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from harness import Corpus, Question
from lexical_variants import LexicalVariant, applicable_variants, lexical_with

from souverain.knowledge import search as search_module
from souverain.knowledge.index.base import Hit, Scope

TOP = 10
CUTOFFS = (1, 5, 10)
TARGET_OWN = 0.95  # hybrid recall@5 on the question's own-language passages, per language
TARGET_CROSS = 0.85  # hybrid recall@5 on the English passage, for de and es questions
RRF_CONSTANTS = (5, 10, 20, 60)  # 60: Cormack et al.
CANDIDATE_COUNTS = (20, 50)
VECTOR_WEIGHTS = (1.0, 1.5)
SCORE_SHARES = (0.5, 0.6, 0.7, 0.8, 0.9)
CROSS_LINGUAL = ("de", "es")
METHODS = ("lexical", "vector", "hybrid")
ENGLISH_COLLECTION = "qa-passages-en"
WARM_UP = 5  # end-to-end searches run before the timed ones


@dataclass
class Asked:
    """What the retrievers returned for one question in one collection: chunk ids, best first."""

    question: Question
    corpus: Corpus
    lexical: list[int]
    vector: list[int]
    hybrid: list[int]
    lexical_candidates: list[Hit]  # the hybrid search's own candidate lists (CANDIDATES each)
    vector_candidates: list[Hit]
    search_seconds: float
    variants: dict[str, list[Hit]] = field(default_factory=dict)  # lexical variants, CANDIDATES each


@dataclass(frozen=True)
class Row:
    """One line of figures: some questions, and the language of the passage that counts as their gold."""

    name: str
    items: list[Asked]
    target: str | None  # None: the question's own language


def rank_of(chunks: Iterable[int], corpus: Corpus, doc_id: str, language: str) -> int | None:
    for rank, chunk_id in enumerate(chunks, start=1):
        passage = corpus.passage_of_chunk(chunk_id)
        if passage.doc_id == doc_id and passage.language == language:
            return rank
    return None


def scores(ranks: list[int | None]) -> dict[str, float]:
    count = len(ranks) or 1
    figures = {f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / count for k in CUTOFFS}
    figures["mrr"] = sum(1 / r for r in ranks if r is not None and r <= TOP) / count
    return figures


def rows_of(asked: list[Asked], asked_english: list[Asked]) -> list[Row]:
    """Each language on its own passages; de/es against the English passage, first in the collection
    of all languages (the question's own-language twin competing), then in the English-only one."""
    rows = []
    languages = list(dict.fromkeys(item.question.language for item in asked))
    for language in languages:
        rows.append(Row(language, [item for item in asked if item.question.language == language], None))
    for language in CROSS_LINGUAL:
        if language in languages and "en" in languages:
            mine = [item for item in asked if item.question.language == language]
            rows.append(Row(f"{language}→en, all languages", mine, "en"))
    for language in CROSS_LINGUAL:
        mine = [item for item in asked_english if item.question.language == language]
        if mine:
            rows.append(Row(f"{language}→en, English only", mine, "en"))
    return rows


def evaluate(rows: list[Row], pick: Callable[[Asked], list[int]]) -> dict[str, dict[str, float]]:
    figures = {}
    for row in rows:
        ranks = [
            rank_of(pick(item), item.corpus, item.question.gold_doc_id, row.target or item.question.language)
            for item in row.items
        ]
        figures[row.name] = scores(ranks) | {"questions": len(row.items)}
    return figures


async def ask_all(
    corpus: Corpus, questions: list[Question], variants: dict[str, LexicalVariant]
) -> list[Asked]:
    services = corpus.services
    knowledge, searcher = services.knowledge, services.searcher
    scope = Scope(
        corpus.tenant.name, (corpus.collection_id,), knowledge.levels_up_to(corpus.principal.clearance)
    )
    asked = []
    for number, question in enumerate(questions, start=1):
        started = time.perf_counter()
        retrieval = await searcher.search(
            corpus.tenant,
            corpus.principal.clearance,
            corpus.level,
            question.question,
            [corpus.collection],
            TOP,
        )
        seconds = time.perf_counter() - started
        language, vector = retrieval.language, retrieval.query_vector
        async with knowledge.database.session() as session:
            lexical = await knowledge.index.lexical(session, scope, question.question, language, TOP)
            nearest = await knowledge.index.vector(session, scope, vector, TOP)
            found = {}
            for name, variant in variants.items():
                found[name] = await lexical_with(variant, knowledge, session, scope, question, language)
        asked.append(
            Asked(
                question,
                corpus,
                [hit.chunk_id for hit in lexical],
                [hit.chunk_id for hit in nearest],
                [result.chunk.id for result in retrieval.results],
                retrieval.lexical,
                retrieval.vector,
                seconds,
                found,
            )
        )
        if number % 500 == 0 or number == len(questions):
            print(f"  asked {number}/{len(questions)} questions", flush=True)
    return asked


def rank_fusion(lexical: list[Hit], vector: list[Hit], k: int, vector_weight: float) -> list[int]:
    """Reciprocal-rank fusion (Cormack et al. 2009), the vector side weighted: 1/(k + rank) summed."""
    fused: dict[int, float] = defaultdict(float)
    for hit in lexical:
        fused[hit.chunk_id] += 1 / (k + hit.rank)
    for hit in vector:
        fused[hit.chunk_id] += vector_weight / (k + hit.rank)
    return sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))[:TOP]


def score_fusion(lexical: list[Hit], vector: list[Hit], vector_weight: float) -> list[int]:
    """Convex combination of the two retrievers' scores, each min-max normalised over its own candidates
    (a chunk missing from a list counts 0 there). Kept here, apart from souverain's `fuse`, so that the
    sweep means the same whatever fusion souverain ships."""
    fused: dict[int, float] = defaultdict(float)
    for hits, weight in ((lexical, 1 - vector_weight), (vector, vector_weight)):
        if not hits:
            continue
        high, low = hits[0].score, hits[-1].score
        for hit in hits:
            fused[hit.chunk_id] += weight * ((hit.score - low) / (high - low) if high > low else 1.0)
    return sorted(fused, key=lambda chunk_id: (-fused[chunk_id], chunk_id))[:TOP]


def sweep(rows: list[Row], lexical_sources: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Hybrid figures re-fused offline from the hybrid search's candidate lists: by ranks (RRF constants,
    candidate counts, vector weights) and by scores (vector shares); also with the lexical variants'
    candidates in place of the shipped lexical retriever's."""
    found = {}
    for source in ["lexical", *lexical_sources]:
        for candidates in CANDIDATE_COUNTS:
            for constant in RRF_CONSTANTS:
                for weight in VECTOR_WEIGHTS:

                    def pick(
                        item: Asked,
                        s: str = source,
                        c: int = candidates,
                        k: int = constant,
                        w: float = weight,
                    ) -> list[int]:
                        lexical = item.lexical_candidates if s == "lexical" else item.variants[s]
                        return rank_fusion(lexical[:c], item.vector_candidates[:c], k, w)

                    found[f"{source} ranks k={constant} candidates={candidates} w={weight:g}"] = evaluate(
                        rows, pick
                    )
        for share in SCORE_SHARES:

            def by_score(item: Asked, s: str = source, w: float = share) -> list[int]:
                lexical = item.lexical_candidates if s == "lexical" else item.variants[s]
                return score_fusion(lexical, item.vector_candidates, w)

            found[f"{source} scores, vector share={share:g}"] = evaluate(rows, by_score)
    return found


def targets(figures: dict[str, dict[str, dict[str, float]]], method: str = "hybrid") -> list[dict[str, Any]]:
    checks = []
    hybrid = figures[method]
    for name, row in hybrid.items():
        threshold = TARGET_CROSS if "→" in name else TARGET_OWN
        checks.append(
            {
                "target": f"{method} recall@5 {name} ≥ {threshold}",
                "value": row["recall@5"],
                "pass": row["recall@5"] >= threshold,
            }
        )
    for name, row in hybrid.items():
        for metric in ("recall@1", "recall@5", "recall@10", "mrr"):
            best = max(figures["lexical"][name][metric], figures["vector"][name][metric])
            checks.append(
                {
                    "target": f"{method} {metric} {name} ≥ better single retriever",
                    "value": row[metric],
                    "best_single": best,
                    "pass": row[metric] >= best - 1e-9,
                }
            )
    return checks


def table(figures: dict[str, dict[str, dict[str, float]]], methods: Iterable[str]) -> str:
    lines = [
        "| questions → gold | n | retriever | recall@1 | recall@5 | recall@10 | MRR@10 |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    names = list(next(iter(figures.values())))
    for name in names:
        for method in methods:
            row = figures[method][name]
            lines.append(
                f"| {name} | {row['questions']:.0f} | {method} | {row['recall@1']:.3f} "
                f"| {row['recall@5']:.3f} | {row['recall@10']:.3f} | {row['mrr']:.3f} |"
            )
    return "\n".join(lines)


async def timed_sample(corpus: Corpus, questions: list[Question], memo: harness.EmbeddingMemo) -> list[float]:
    """End-to-end `Searcher.search` latency with the embedding memo off: what a user waits for."""
    services = corpus.services
    inner = memo.inner
    original = services.gateway.embed_texts
    services.gateway.embed_texts = inner  # type: ignore[method-assign,assignment]
    seconds = []
    try:
        # Unmeasured first: the engine's first calls after start-up (or after a long idle) are slower.
        warm_up = questions[:WARM_UP]
        for number, question in enumerate([*warm_up, *questions]):
            started = time.perf_counter()
            await services.searcher.search(
                corpus.tenant,
                corpus.principal.clearance,
                corpus.level,
                question.question,
                [corpus.collection],
                TOP,
            )
            if number >= len(warm_up):
                seconds.append(time.perf_counter() - started)
    finally:
        services.gateway.embed_texts = original  # type: ignore[method-assign]
    return seconds


async def main(arguments: argparse.Namespace) -> int:
    languages = harness.chosen_languages(arguments.languages)
    passages = harness.load_passages(languages)
    questions = harness.spread(harness.load_questions(languages), arguments.limit_questions)
    crossing = [q for q in questions if q.language in CROSS_LINGUAL] if "en" in languages else []
    with tempfile.TemporaryDirectory(prefix="souverain-eval-") as scratch:
        data_dir = Path(arguments.data_dir) if arguments.data_dir else Path(scratch)
        memo_path = None if arguments.no_memo else harness.CACHE
        async with harness.started(data_dir, arguments.database_url, memo_path) as (services, memo):
            if arguments.candidates:
                search_module.CANDIDATES = arguments.candidates
            print(
                f"ingesting {len(passages)} passages ({', '.join(languages)}) into one collection", flush=True
            )
            titled = arguments.title_in_text
            suffix = "-titled" if titled else ""
            corpus = await harness.ingest(
                services, passages, harness.COLLECTION + suffix, title_in_text=titled
            )
            ingest_misses, ingest_engine_seconds = memo.misses, memo.seconds
            print(f"embedding {len(questions)} questions in batches", flush=True)
            started = time.perf_counter()
            model = services.knowledge.settings.embedding_model
            await memo.warm(corpus.tenant, model, [q.question for q in questions], corpus.level, "query")
            embed_seconds = time.perf_counter() - started
            query_misses = memo.misses - ingest_misses
            variants = (
                applicable_variants() if arguments.lexical_variants and services.database.is_sqlite else {}
            )
            print(f"asking {len(questions)} questions", flush=True)
            asked = await ask_all(corpus, questions, variants)
            sample = harness.spread(questions, max(1, arguments.latency_sample // max(1, len(languages))))
            end_to_end = await timed_sample(corpus, sample[: arguments.latency_sample], memo)
            asked_english: list[Asked] = []
            if crossing:
                english = [passage for passage in passages if passage.language == "en"]
                print(f"asking {len(crossing)} de/es questions of a collection of the English passages only")
                english_corpus = await harness.ingest(
                    services, english, ENGLISH_COLLECTION + suffix, progress=False, title_in_text=titled
                )
                asked_english = await ask_all(english_corpus, crossing, variants)
            store = "PostgreSQL" if not services.database.is_sqlite else "SQLite"
    rows = rows_of(asked, asked_english)
    figures = {
        "lexical": evaluate(rows, lambda item: item.lexical),
        "vector": evaluate(rows, lambda item: item.vector),
        "hybrid": evaluate(rows, lambda item: item.hybrid),
    }
    for name in variants:

        def top(item: Asked, n: str = name) -> list[int]:
            return [hit.chunk_id for hit in item.variants[n][:TOP]]

        figures[name] = evaluate(rows, top)
    checks = targets(figures)
    search_seconds = [item.search_seconds for item in asked]
    timing = {
        "store": store,
        "passages": len(passages),
        "documents_added": corpus.added,
        "chunks": len(corpus.document_of_chunk),
        "ingest_seconds": corpus.ingest_seconds,
        "ingest_passages_embedded": ingest_misses,
        "ingest_embedding_seconds": ingest_engine_seconds,
        "questions": len(questions),
        "question_embedding_seconds": embed_seconds,
        "questions_embedded": query_misses,
        "search_ms_p50_memoised_embedding": 1000 * harness.percentile(search_seconds, 0.5),
        "search_ms_p95_memoised_embedding": 1000 * harness.percentile(search_seconds, 0.95),
        "search_ms_p50_end_to_end": 1000 * harness.percentile(end_to_end, 0.5),
        "search_ms_p95_end_to_end": 1000 * harness.percentile(end_to_end, 0.95),
        "end_to_end_sample": len(end_to_end),
    }
    report = [
        f"## Retrieval: {len(questions)} questions, {len(passages)} passages in one collection ({store})",
        "",
        table(figures, [*METHODS, *variants]),
        "",
        _timing_lines(timing),
        "",
        "### Targets",
        "",
        *(_check_line(check) for check in checks),
    ]
    swept = sweep(rows, list(variants)) if arguments.sweep else {}
    if swept:
        report += [
            "",
            "### Fusion sweep (offline; hybrid recall@5 / MRR@10)",
            "",
            _sweep_table(swept, figures),
        ]
    print("\n".join(report))
    path = harness.write_json(
        "retrieval",
        {
            "arguments": vars(arguments),
            "figures": figures,
            "targets": checks,
            "timing": timing,
            "sweep": swept,
            "questions": [_question_record(item) for item in [*asked, *asked_english]],
        },
    )
    print(f"\nwritten: {path.relative_to(harness.HERE.parent)}")
    if arguments.keep_candidates:
        kept = harness.write_json("retrieval-candidates", _candidates(rows))
        print(f"written: {kept.relative_to(harness.HERE.parent)}")
    return 0 if all(check["pass"] for check in checks) else 1


def _check_line(check: dict[str, Any]) -> str:
    line = f"- {'PASS' if check['pass'] else 'FAIL'}: {check['target']}: {check['value']:.3f}"
    return line + (f" (best single {check['best_single']:.3f})" if "best_single" in check else "")


def _timing_lines(timing: dict[str, Any]) -> str:
    embedded = timing["questions_embedded"]
    per_question = (
        f"{1000 * timing['question_embedding_seconds'] / embedded:.1f} ms each" if embedded else "memoised"
    )
    return "\n".join(
        [
            f"- ingestion: {timing['passages']} passages ({timing['documents_added']} added, "
            f"{timing['chunks']} chunks) in {timing['ingest_seconds']:.1f} s "
            f"({timing['ingest_passages_embedded']} chunk texts embedded, "
            f"{timing['ingest_embedding_seconds']:.1f} s of it in the embedding engine)",
            f"- question embedding, batches of 64: {timing['questions_embedded']} new in "
            f"{timing['question_embedding_seconds']:.1f} s ({per_question})",
            "- `Searcher.search`, embedding memoised: "
            f"p50 {timing['search_ms_p50_memoised_embedding']:.1f} ms, "
            f"p95 {timing['search_ms_p95_memoised_embedding']:.1f} ms",
            f"- `Searcher.search` end to end ({timing['end_to_end_sample']} questions, one at a time): "
            f"p50 {timing['search_ms_p50_end_to_end']:.1f} ms, "
            f"p95 {timing['search_ms_p95_end_to_end']:.1f} ms",
        ]
    )


def _sweep_table(swept: dict[str, dict[str, dict[str, float]]], figures: dict[str, Any]) -> str:
    """Every setting of the sweep; a ✓ where hybrid is at least the better single retriever on all four
    figures of every row."""
    names = list(next(iter(swept.values())))
    lines = ["| fusion | " + " | ".join(names) + " | ≥ single |", "|---|" + "---:|" * len(names) + "---|"]
    for setting, rows in swept.items():
        cells = [f"{rows[name]['recall@5']:.3f} / {rows[name]['mrr']:.3f}" for name in names]
        holds = all(
            rows[name][metric]
            >= max(figures["lexical"][name][metric], figures["vector"][name][metric]) - 1e-9
            for name in names
            for metric in ("recall@1", "recall@5", "recall@10", "mrr")
        )
        lines.append(f"| {setting} | " + " | ".join(cells) + f" | {'✓' if holds else ''} |")
    return "\n".join(lines)


def _candidates(rows: list[Row]) -> dict[str, Any]:
    """Each row's questions with every candidate list (chunk id, rank, score) and the gold's chunks: enough
    to try other fusions offline."""
    found: dict[str, Any] = {}
    for row in rows:
        entries = []
        for item in row.items:
            target = row.target or item.question.language
            gold = [
                chunk_id
                for chunk_id in item.corpus.document_of_chunk
                if (passage := item.corpus.passage_of_chunk(chunk_id)).doc_id == item.question.gold_doc_id
                and passage.language == target
            ]
            lists = {"lexical": item.lexical_candidates, "vector": item.vector_candidates} | item.variants
            entries.append(
                {
                    "id": item.question.id,
                    "gold_chunks": gold,
                    "hybrid": item.hybrid,
                    **{
                        name: [[hit.chunk_id, hit.rank, hit.score] for hit in hits]
                        for name, hits in lists.items()
                    },
                }
            )
        found[row.name] = entries
    return found


def _question_record(item: Asked) -> dict[str, Any]:
    question = item.question
    record: dict[str, Any] = {
        "id": question.id,
        "language": question.language,
        "collection": item.corpus.collection,
        "search_ms": round(1000 * item.search_seconds, 2),
    }
    targets_ = [question.language] + (["en"] if question.language in CROSS_LINGUAL else [])
    for target in dict.fromkeys(targets_):
        for method in METHODS:
            chunks = getattr(item, method)
            record[f"{method}_rank_{target}"] = rank_of(chunks, item.corpus, question.gold_doc_id, target)
    return record


def parse_arguments() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    parser.add_argument(
        "--limit-questions",
        type=int,
        default=None,
        metavar="N",
        help="ask at most N questions per language, spread evenly over the list (default: all)",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of a PostgreSQL store (with pgvector); default: SQLite in --data-dir",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="keep the SQLite store here and reuse it on the next run (default: a temporary folder)",
    )
    parser.add_argument("--no-memo", action="store_true", help="do not read or write eval/results/cache/")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="re-fuse offline: other RRF constants, candidate counts, weights; score fusion",
    )
    parser.add_argument(
        "--lexical-variants",
        action="store_true",
        help="also run the lexical retriever with other FTS5 query constructions (SQLite only)",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        default=None,
        help="override the hybrid search's candidates per retriever (souverain.knowledge.search.CANDIDATES)",
    )
    parser.add_argument(
        "--keep-candidates",
        action="store_true",
        help="also write every question's candidate lists with scores (for trying fusions offline)",
    )
    parser.add_argument(
        "--title-in-text",
        action="store_true",
        help="experiment: each passage uploaded with its title as first line (indexed and embedded)",
    )
    parser.add_argument(
        "--latency-sample",
        type=int,
        default=40,
        metavar="N",
        help="questions timed end to end without the memo",
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_arguments())))
