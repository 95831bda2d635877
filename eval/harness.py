"""What the evaluation scripts share: the QA data sets of ../shared/eval, an in-process souverain with one
collection of passages, and a memo of embeddings so that reruns do not embed the same text twice.

Nothing here changes how souverain retrieves or answers: the memo only remembers what the gateway's own
`embed_texts` returned for a text, and hands the same vector back the next time it is asked.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from souverain.api.deps import Services
from souverain.app import build_services, running
from souverain.config import Settings, TenantConfig, parse_deployment
from souverain.engines import registry
from souverain.errors import Conflict
from souverain.knowledge.service import Upload
from souverain.store.models import ChunkRow, DocumentRow
from souverain.tenancy.principal import Principal, Role

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "eval"
RESULTS = HERE / "results"
CACHE = RESULTS / "cache" / "embeddings.sqlite"
TENANT = "eval"
COLLECTION = "qa-passages"
# Where each language's passages and questions live.
SOURCES = {"en": "xquad/en", "de": "xquad/de", "es": "xquad/es", "fr": "piaf/fr"}
LANGUAGES = tuple(SOURCES)
_TAGS = re.compile(r"<[^>]+>")  # PIAF titles keep some HTML: <i>Chelidonium majus</i>


@dataclass(frozen=True)
class Passage:
    doc_id: str  # the data set's id: the same for the translations of one xquad passage
    language: str
    title: str
    text: str

    @property
    def article(self) -> str:
        """The article the passage belongs to: xquad-a07-p03 -> xquad-a07."""
        return self.doc_id.rsplit("-p", 1)[0]


@dataclass(frozen=True)
class Question:
    id: str
    language: str
    question: str
    gold_doc_id: str
    answers: tuple[str, ...]

    @property
    def article(self) -> str:
        return self.gold_doc_id.rsplit("-p", 1)[0]


def load_passages(languages: Iterable[str]) -> list[Passage]:
    passages = []
    for language in languages:
        for record in _records(DATA / f"{SOURCES[language]}.corpus.jsonl"):
            passages.append(Passage(record["doc_id"], language, record["title"], record["text"]))
    return passages


def load_questions(languages: Iterable[str], limit: int | None = None) -> list[Question]:
    """The questions of each language, the first `limit` of each when given (the files are in article
    order, so a limit takes the questions of the first articles)."""
    questions = []
    for language in languages:
        records = _records(DATA / f"{SOURCES[language]}.queries.jsonl")
        for record in records[:limit] if limit else records:
            answers = tuple(answer["text"] for answer in record["answers"])
            questions.append(
                Question(record["id"], language, record["question"], record["gold_doc_id"], answers)
            )
    return questions


def spread(questions: list[Question], limit: int | None) -> list[Question]:
    """At most `limit` questions per language, taken evenly through each language's list (so that every
    article is represented), in their original order."""
    if not limit:
        return questions
    chosen: list[Question] = []
    for language in dict.fromkeys(question.language for question in questions):
        mine = [question for question in questions if question.language == language]
        step = max(1, len(mine) / limit)
        chosen.extend(mine[int(index * step)] for index in range(min(limit, len(mine))))
    return chosen


def _records(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


class EmbeddingMemo:
    """Wraps `Gateway.embed_texts`: texts seen before (in this run or an earlier one, kept in a SQLite
    file) get their stored vector; the others go to the real engine in one call."""

    def __init__(self, inner: Callable[..., Awaitable[np.ndarray]], path: Path | None) -> None:
        self.inner = inner
        self.vectors: dict[str, np.ndarray] = {}
        self.misses = 0
        self.seconds = 0.0  # spent in the real engine
        self.connection: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.connection = sqlite3.connect(path)
            self.connection.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    @staticmethod
    def key(model: str, input_type: str, text: str) -> str:
        return hashlib.sha256(f"{model}\0{input_type}\0{text}".encode()).hexdigest()

    async def __call__(
        self, tenant: TenantConfig, model: str, texts: list[str], level: str, input_type: str
    ) -> np.ndarray:
        keys = [self.key(model, input_type, text) for text in texts]
        missing = [index for index, key in enumerate(keys) if self._lookup(key) is None]
        self.misses += len(missing)
        if missing:
            started = time.perf_counter()
            fresh = await self.inner(tenant, model, [texts[index] for index in missing], level, input_type)
            self.seconds += time.perf_counter() - started
            for index, vector in zip(missing, fresh, strict=True):
                self._store(keys[index], np.asarray(vector, dtype=np.float32))
            if self.connection is not None:
                self.connection.commit()  # once per call: a commit per vector made ingestion wait on I/O
        return np.vstack([self.vectors[key] for key in keys])

    async def warm(
        self, tenant: TenantConfig, model: str, texts: list[str], level: str, input_type: str, batch: int = 64
    ) -> None:
        """Embed the texts not yet known, `batch` at a time (the engine is faster on batches)."""
        unknown = list(
            dict.fromkeys(t for t in texts if self._lookup(self.key(model, input_type, t)) is None)
        )
        for start in range(0, len(unknown), batch):
            await self(tenant, model, unknown[start : start + batch], level, input_type)

    def _lookup(self, key: str) -> np.ndarray | None:
        vector = self.vectors.get(key)
        if vector is None and self.connection is not None:
            row = self.connection.execute("SELECT vector FROM vectors WHERE key = ?", (key,)).fetchone()
            if row is not None:
                vector = self.vectors[key] = np.frombuffer(row[0], dtype=np.float32)
        return vector

    def _store(self, key: str, vector: np.ndarray) -> None:
        self.vectors[key] = vector
        if self.connection is not None:
            self.connection.execute("INSERT OR REPLACE INTO vectors VALUES (?, ?)", (key, vector.tobytes()))

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


@dataclass
class Corpus:
    """The collection the questions are asked against, and which passage each document is."""

    services: Services
    tenant: TenantConfig
    principal: Principal
    level: str
    collection: str
    collection_id: str
    passage_of_document: dict[str, Passage] = field(default_factory=dict)
    document_of_chunk: dict[int, str] = field(default_factory=dict)
    ingest_seconds: float = 0.0
    added: int = 0

    def passage_of_chunk(self, chunk_id: int) -> Passage:
        return self.passage_of_document[self.document_of_chunk[chunk_id]]


def deployment_dict(chat_model_path: str | None = None, chat_model: str = "smollm2") -> dict[str, Any]:
    """One tenant allowed everything; with a GGUF path, a llama.cpp backend that writes the answers."""
    raw: dict[str, Any] = {
        "site": {"name": "eval", "jurisdiction": "LU"},
        "tenants": [{"name": TENANT, "residency": ["LU"], "models": []}],
    }
    if chat_model_path is not None:
        raw["backends"] = [
            {
                "name": "smollm2",
                "kind": "llamacpp",
                "path": chat_model_path,
                "models": [chat_model],
                "options": {"n_ctx": 4096, "seed": 0},
            }
        ]
        raw["tenants"][0]["models"] = [chat_model]
        raw["knowledge"] = {"answer_model": chat_model}
    return raw


@asynccontextmanager
async def started(
    data_dir: Path, database_url: str | None, memo_path: Path | None, raw: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Services, EmbeddingMemo]]:
    """A running souverain (no HTTP) whose gateway embeds through an EmbeddingMemo."""
    deployment = parse_deployment(raw or deployment_dict(), "eval", registry.kind_infos())
    settings = Settings(data_dir=data_dir, database_url=database_url)
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    services = build_services(settings, deployment)
    memo = EmbeddingMemo(services.gateway.embed_texts, memo_path)
    services.gateway.embed_texts = memo  # type: ignore[method-assign]
    try:
        async with running(services):
            yield services, memo
    finally:
        memo.close()


async def ingest(
    services: Services,
    passages: list[Passage],
    collection: str = COLLECTION,
    progress: bool = True,
    title_in_text: bool = False,
) -> Corpus:
    """Every passage one document (a plain-text upload with its title), all in one collection; an
    existing collection is reused (unchanged passages are recognised by their hash, not re-embedded).
    `title_in_text` writes the title as the text's first line, so that it is indexed and embedded with
    the passage (an experiment: souverain indexes a chunk's text only)."""
    deployment = services.deployment
    tenant = deployment.tenants[0]
    level = deployment.classification_levels[0]
    clearance = deployment.classification_levels[-1]
    principal = Principal(
        key_id="eval", key_prefix="eval", tenant=tenant, role=Role.MEMBER, clearance=clearance, buckets=()
    )
    knowledge = services.knowledge
    try:
        row = await knowledge.create_collection(tenant, collection)
    except Conflict:
        async with knowledge.database.session() as session:
            row = (await knowledge.resolve(session, tenant, [collection]))[0]
    corpus = Corpus(services, tenant, principal, level, collection, row.id)
    started_at = time.perf_counter()
    for number, passage in enumerate(passages, start=1):
        title = passage.title.replace("_", " ")
        text = f"{_TAGS.sub('', title)}\n\n{passage.text}" if title_in_text else passage.text
        upload = Upload(
            data=text.encode("utf-8"),
            filename=f"{passage.doc_id}.{passage.language}.txt",
            media_type="text/plain",
            title=title,
            metadata={"doc_id": passage.doc_id, "language": passage.language},
        )
        ingested = await knowledge.ingest(tenant, clearance, collection, upload)
        corpus.passage_of_document[ingested.document.id] = passage
        corpus.added += ingested.status == "added"
        if progress and (number % 100 == 0 or number == len(passages)):
            elapsed = time.perf_counter() - started_at
            print(f"  ingested {number}/{len(passages)} passages in {elapsed:.0f} s", flush=True)
    corpus.ingest_seconds = time.perf_counter() - started_at
    async with knowledge.database.session() as session:
        rows = await session.execute(
            select(ChunkRow.id, ChunkRow.document_id)
            .join(DocumentRow, DocumentRow.id == ChunkRow.document_id)
            .where(DocumentRow.collection_id == row.id)
        )
        corpus.document_of_chunk = {chunk_id: document_id for chunk_id, document_id in rows}
    return corpus


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
    return path


def parser(doc: str) -> argparse.ArgumentParser:
    """The options every eval script takes: the languages, then the script's own."""
    made = argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    made.add_argument("--languages", default=",".join(LANGUAGES), help="comma-separated: en,de,es,fr")
    return made


def chosen_languages(text: str) -> list[str]:
    """The languages of `--languages`; exit 2 naming any the data sets do not have."""
    languages = [language.strip() for language in text.split(",") if language.strip()]
    unknown = set(languages) - set(LANGUAGES)
    if unknown:
        print(f"unknown languages: {', '.join(sorted(unknown))}", file=sys.stderr)
        raise SystemExit(2)
    return languages
