"""The texts of bench/knowledge.py: documents, questions and filler chunks from the QA data sets of
../shared/eval (xquad en/de/es, PIAF fr), and the unit vectors that go with the filler chunks.

Nothing here is invented text: documents are an article's passages, questions are the data sets' own, and
filler chunks are the data sets' sentences drawn at random and joined to a chunk's usual length.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from souverain.knowledge.sentences import sentence_spans

SOURCES = {"en": "xquad/en", "de": "xquad/de", "es": "xquad/es", "fr": "piaf/fr"}
LANGUAGES = tuple(SOURCES)
_TAGS = re.compile(r"<[^>]+>")  # PIAF titles keep some HTML: <i>Chelidonium majus</i>


@dataclass(frozen=True)
class Document:
    language: str
    title: str
    markdown: str  # the title as a heading, then the article's passages as paragraphs
    passages: int


@dataclass(frozen=True)
class Question:
    language: str
    text: str


def _records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _round_robin(groups: dict[str, list[Any]], count: int) -> list[Any]:
    """Up to `count` items, taken in turn from each group, each group spread evenly through its list."""
    share = -(-count // len(groups))
    if share <= 0:
        return []
    picked = []
    for number, items in enumerate(groups.values()):
        # Each group starts at its own offset: xquad's languages are translations of the same passages.
        step = max(1.0, len(items) / share)
        offset = number * step / len(groups)
        picked.append([items[int(index * step + offset)] for index in range(min(share, len(items)))])
    mixed = [items[index] for index in range(share) for items in picked if index < len(items)]
    return mixed[:count]


def documents(data: Path, count: int) -> list[Document]:
    """One document per article (its passages in file order), `count` of them spread over the languages."""
    by_language: dict[str, list[Document]] = {}
    for language, source in SOURCES.items():
        articles: dict[str, list[str]] = {}
        for record in _records(data / f"{source}.corpus.jsonl"):
            articles.setdefault(record["title"], []).append(record["text"])
        by_language[language] = [
            Document(
                language, _title(title), f"# {_title(title)}\n\n" + "\n\n".join(texts) + "\n", len(texts)
            )
            for title, texts in articles.items()
        ]
    return _round_robin(by_language, count)


def questions(data: Path, count: int) -> list[Question]:
    by_language = {
        language: [
            Question(language, record["question"])
            for record in _records(data / f"{source}.queries.jsonl")
            if record["question"].strip()
        ]
        for language, source in SOURCES.items()
    }
    return _round_robin(by_language, count)


def _title(raw: str) -> str:
    return _TAGS.sub("", raw).replace("_", " ").strip()


class FillerText:
    """Chunk texts made of the data sets' sentences, drawn at random within one language and joined until
    the chunk is as long as ingestion's chunks usually are (a draw of 600 to 1,200 characters)."""

    def __init__(self, data: Path, seed: int) -> None:
        self.random = np.random.default_rng(seed)
        self.sentences = _sentences(data)

    def chunks(self, language: str, count: int) -> Iterator[str]:
        pool = self.sentences[language]
        for _ in range(count):
            target = int(self.random.integers(600, 1200))
            parts: list[str] = []
            length = 0
            while length < target:
                sentence = pool[int(self.random.integers(len(pool)))]
                parts.append(sentence)
                length += len(sentence) + 1
            yield " ".join(parts)


@functools.cache
def _sentences(data: Path) -> dict[str, list[str]]:
    """Every sentence of the data sets, by language: read and split once per run, whatever the fillers."""
    sentences: dict[str, list[str]] = {}
    for language, source in SOURCES.items():
        pool: list[str] = []
        for record in _records(data / f"{source}.corpus.jsonl"):
            text = record["text"]
            pool.extend(text[start:end] for start, end in sentence_spans(text, language))
        sentences[language] = pool
    return sentences


class FillerVectors:
    """Unit vectors for filler chunks.

    `perturbed`: a real e5 vector (one of `seeds`, embedded during this run) plus Gaussian noise, then
    renormalised, so that each copy keeps a cosine of about 0.9 with its seed: the store has the shape of
    real e5 vectors (all in one narrow cone, clustered by topic) rather than the easy uniform sphere.
    `random`: uniform on the sphere, for comparison.
    """

    COSINE_TO_SEED = 0.9

    def __init__(self, kind: str, seeds: np.ndarray, dimensions: int, seed: int) -> None:
        self.kind = kind
        self.seeds = seeds.astype(np.float32)
        self.dimensions = dimensions
        self.random = np.random.default_rng(seed)
        if kind == "perturbed" and not len(self.seeds):
            raise ValueError("perturbed vectors need real seed vectors")

    def take(self, count: int) -> np.ndarray:
        noise = self.random.standard_normal((count, self.dimensions)).astype(np.float32)
        if self.kind == "random":
            vectors = noise
        else:
            # Noise of norm tan(arccos(c)) orthogonal-ish to a unit seed gives a cosine of about c.
            scale = float(np.tan(np.arccos(self.COSINE_TO_SEED)) / np.sqrt(self.dimensions))
            chosen = self.seeds[self.random.integers(len(self.seeds), size=count)]
            vectors = chosen + scale * noise
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors.astype(np.float32)
