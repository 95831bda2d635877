"""Answers from a tenant's documents, every sentence tied to the passage it comes from.

Without a generative model the answer is extractive: the retrieved sentences closest to the question,
quoted verbatim. With one, the model writes from numbered passages, its `[n]` markers are parsed and
each sentence is checked against the passages it cites. Every answer keeps an explanation record.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from souverain.config import Deployment
from souverain.errors import NotFound
from souverain.knowledge.languages import folded
from souverain.knowledge.search import Result, Retrieval, Searcher
from souverain.knowledge.sentences import sentence_spans
from souverain.privacy.subjects import strings_in
from souverain.store.models import AnswerRow, SubjectMentionRow
from souverain.tenancy.principal import Principal

EXTRACTIVE = "extractive"  # the model named for answers quoted from the sources, with no generative model
PASSAGES = 5  # retrieved chunks an answer is built from
EXTRACTED_SENTENCES = 2
# Cosine (e5) below which the best sentence is taken as unrelated: abstain. eval/answers.py, 1,200 real
# and 600 off-topic questions in four languages: 0.80 abstained on 26 % of off-topic ones; 0.84, the best
# balanced accuracy, on 87-99 % while abstaining on 3-8 % of answerable ones.
RELEVANT = 0.84
# A question and a passage in two languages score lower for the same meaning (here 0.83 for an English
# question answered word for word by a French sentence): the bar drops by this much across languages.
CROSS_LINGUAL_ALLOWANCE = 0.04
# Cosine (e5, symmetric "query" mode) between a generated sentence and its cited passages' best sentence.
# Measured here: sentences the passages back 0.96-0.99, unrelated ones 0.87-0.88, a wrong amount 0.925.
SUPPORTED = 0.93
SUPPORTED_WORDS = 0.6  # or: this share of its content words appear in the cited passages
ABSTENTION = {
    "en": "The documents do not say.",
    "fr": "Les documents ne le disent pas.",
    "de": "Die Dokumente sagen dazu nichts.",
    "es": "Los documentos no lo dicen.",
}
PROMPT = """Answer the question using only the numbered passages below.
After each sentence, cite the passages it comes from as [1], [2].
If the passages do not contain the answer, say only: {abstention}
Answer in the language of the question.

{passages}

Question: {question}"""
_MARKER = re.compile(r"\s*\[(\d{1,3})\]")
_WORD = re.compile(r"\w{4,}", re.UNICODE)
# Extractive scoring = meaning (e5 cosine) + these shares of evidence; e5-small alone ranks a heading
# that repeats the question's words above the sentence holding the answer.
WORD_WEIGHT = 0.06  # share of the question's word stems found in the sentence
NUMBER_WEIGHT = 0.03  # a "how many / when" question, and a sentence with a number in it
MIN_SENTENCE_WORDS = 4  # shorter "sentences" are headings or list labels
_NUMERIC_QUESTION = re.compile(
    r"\b(combien|quand|how (many|much|long|old)|when|what year|wie (viel|viele|lange|alt)|wann|"
    r"cu[aá]nt[oa]s?|cu[aá]ndo|quanto|quando|ile|kiedy)\b",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class Citation:
    n: int
    document_id: str
    title: str
    page: int | None
    quote: str
    start: int  # in the document's extracted text
    end: int
    chunk_id: int


@dataclass(frozen=True)
class Sentence:
    text: str
    citations: list[int]
    supported: bool
    similarity: float | None = None


@dataclass
class Answer:
    id: str
    answer: str
    citations: list[Citation]
    sentences: list[Sentence]
    abstained: bool
    classification: str
    model: str | None = None
    backend: str | None = None
    jurisdiction: str | None = None
    model_call: int | None = None  # the audit record of the generative model's call, if one was made
    explanation: dict[str, Any] = field(default_factory=dict)


class Answerer:
    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.knowledge = searcher.knowledge

    async def answer(
        self,
        principal: Principal,
        level: str,
        question: str,
        collections: list[str],
        model: str | None = None,
    ) -> Answer:
        model = model or self.knowledge.settings.answer_model
        retrieval = await self.searcher.search(
            principal.tenant, principal.clearance, level, question, collections, PASSAGES
        )
        language = retrieval.language if retrieval.language in ABSTENTION else "en"
        candidates = await self._sentences(principal, level, retrieval)
        best = max((similarity for *_, similarity in candidates), default=0.0)
        if best < self._relevant(retrieval, candidates, best):
            answer = self._abstain(level, language)
        elif model is None:
            answer = self._extract(question, retrieval, candidates, level)
        else:
            answer = await self._generate(principal, level, question, retrieval, candidates, model, language)
            if not answer.abstained and not any(sentence.supported for sentence in answer.sentences):
                # Nothing the model wrote is backed by the passages (small models loop or ignore the
                # markers): quote the documents instead, and say so in the explanation.
                rejected = [asdict(sentence) for sentence in answer.sentences]
                generated, answer = answer, self._extract(question, retrieval, candidates, level)
                answer.model_call = generated.model_call  # the model was called all the same
                answer.explanation |= {"generative_rejected": {"model": model, "sentences": rejected}}
        answer.explanation |= _retrieval_record(retrieval, best)
        await self._keep(principal, answer)
        return answer

    async def _sentences(
        self, principal: Principal, level: str, retrieval: Retrieval
    ) -> list[tuple[Result, int, int, float]]:
        """Every sentence of the retrieved passages, with its span in the chunk and its closeness to the
        question."""
        spans = [
            (result, start, end)
            for result in retrieval.results
            for start, end in sentence_spans(result.chunk.text, result.chunk.language)
        ]
        if not spans:
            return []
        spans = [
            (result, start, end)
            for result, start, end in spans
            if len(result.chunk.text[start:end].split()) >= MIN_SENTENCE_WORDS
            and result.chunk.text[start:end] != result.chunk.heading
        ] or spans
        texts = [result.chunk.text[start:end] for result, start, end in spans]
        vectors = await self.knowledge.gateway.embed_texts(
            principal.tenant, self.knowledge.settings.embedding_model, texts, level, "passage"
        )
        similarities = vectors @ retrieval.query_vector
        return [(*span, float(similarity)) for span, similarity in zip(spans, similarities, strict=True)]

    @staticmethod
    def _evidence(question: str, sentence: str) -> float:
        """What, beyond meaning, says a sentence answers the question: shared words, and a number for a
        question that asks for one."""
        asked = _stems(question)
        shared = len(asked & _stems(sentence)) / len(asked) if asked else 0.0
        numeric = bool(_NUMERIC_QUESTION.search(question)) and bool(_DIGIT.search(sentence))
        return WORD_WEIGHT * shared + (NUMBER_WEIGHT if numeric else 0.0)

    @staticmethod
    def _relevant(
        retrieval: Retrieval, candidates: list[tuple[Result, int, int, float]], best: float
    ) -> float:
        closest = next((result for result, _, _, similarity in candidates if similarity == best), None)
        crossing = closest is not None and retrieval.language and closest.chunk.language != retrieval.language
        return RELEVANT - CROSS_LINGUAL_ALLOWANCE if crossing else RELEVANT

    def _extract(
        self,
        question: str,
        retrieval: Retrieval,
        candidates: list[tuple[Result, int, int, float]],
        level: str,
    ) -> Answer:
        scored = [
            (
                candidate,
                candidate[3] + self._evidence(question, candidate[0].chunk.text[candidate[1] : candidate[2]]),
            )
            for candidate in candidates
        ]
        scored.sort(key=lambda item: -item[1])
        chosen = [
            candidate for candidate, score in scored[:EXTRACTED_SENTENCES] if score >= scored[0][1] - 0.05
        ]
        # Read in document order, not by score: sentences of one passage keep their sequence.
        order = {result.chunk.id: rank for rank, result in enumerate(retrieval.results)}
        chosen.sort(key=lambda candidate: (order[candidate[0].chunk.id], candidate[1]))
        citations: dict[int, Citation] = {}
        sentences = []
        for result, start, end, similarity in chosen:
            citation = citations.get(result.chunk.id)
            quote = result.chunk.text[start:end]
            if citation is None:
                citation = citation_of(len(citations) + 1, result, start, end)
                citations[result.chunk.id] = citation
            sentences.append(Sentence(quote, [citation.n], True, similarity))
        answer_text = " ".join(f"{sentence.text} [{sentence.citations[0]}]" for sentence in sentences)
        cited = list(citations.values())
        return Answer(
            id=_new_id(),
            answer=answer_text,
            citations=cited,
            sentences=sentences,
            abstained=False,
            classification=highest_level(self.knowledge.deployment, level, [result for result, *_ in chosen]),
            explanation={"engine": "extractive"},
        )

    async def _generate(
        self,
        principal: Principal,
        level: str,
        question: str,
        retrieval: Retrieval,
        candidates: list[tuple[Result, int, int, float]],
        model: str,
        language: str,
    ) -> Answer:
        passages = numbered_passages(retrieval.results)
        prompt = PROMPT.format(abstention=ABSTENTION[language], passages=passages, question=question)
        payload = {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0.1}
        payload["max_tokens"] = 400
        classification = highest_level(self.knowledge.deployment, level, retrieval.results)
        reply = await self.knowledge.gateway.chat(principal, payload, classification)
        text = _content(reply.completion.body)
        sentences = await self._verify(principal, level, text, retrieval, language)
        citations = [
            citation_of(n, result, 0, len(result.chunk.text))
            for n, result in enumerate(retrieval.results, start=1)
            if any(n in sentence.citations for sentence in sentences)
        ]
        return Answer(
            id=_new_id(),
            answer=text,
            citations=citations,
            sentences=sentences,
            abstained=ABSTENTION[language] in text and not citations,
            classification=classification,
            model=model,
            backend=reply.backend.name,
            jurisdiction=reply.backend.jurisdiction,
            model_call=reply.record,
            explanation={"engine": "generative", "prompt_template": PROMPT, "model": model},
        )

    async def _verify(
        self, principal: Principal, level: str, text: str, retrieval: Retrieval, language: str
    ) -> list[Sentence]:
        """Split the generated text into sentences, read their [n] markers, and check each against the
        passages it cites: by meaning (embeddings) or by its words."""
        drafts = []
        for start, end in sentence_spans(text, language):
            sentence = text[start:end]
            cited = sorted(
                {int(n) for n in _MARKER.findall(sentence) if 1 <= int(n) <= len(retrieval.results)}
            )
            drafts.append((_MARKER.sub("", sentence).strip(), cited))
        if not drafts:
            return []
        # One embedding call for the drafts and one for the cited passages' sentences, whatever the count.
        cited_passages = sorted({n for _, cited in drafts for n in cited})
        passage_sentences = [
            (n, retrieval.results[n - 1].chunk.text[start:end])
            for n in cited_passages
            for start, end in sentence_spans(
                retrieval.results[n - 1].chunk.text, retrieval.results[n - 1].chunk.language
            )
        ]
        gateway, model = self.knowledge.gateway, self.knowledge.settings.embedding_model
        texts = [draft for draft, _ in drafts] + [text for _, text in passage_sentences]
        vectors = await gateway.embed_texts(principal.tenant, model, texts, level, "query")
        draft_vectors, passage_vectors = vectors[: len(drafts)], vectors[len(drafts) :]
        owners = np.array([n for n, _ in passage_sentences])
        sentences = []
        for (draft, cited), vector in zip(drafts, draft_vectors, strict=True):
            similarity = _best_similarity(vector, passage_vectors[np.isin(owners, cited)]) if cited else 0.0
            words = _word_share(draft, [retrieval.results[n - 1].chunk.text for n in cited])
            # An amount, date or article number the cited passages do not contain is never supported.
            numbers_found = _numbers(draft) <= set().union(
                *(_numbers(retrieval.results[n - 1].chunk.text) for n in cited)
            )
            supported = (
                bool(cited) and numbers_found and (similarity >= SUPPORTED or words >= SUPPORTED_WORDS)
            )
            sentences.append(Sentence(draft, cited, supported, similarity))
        return sentences

    def _abstain(self, level: str, language: str) -> Answer:
        return Answer(
            id=_new_id(),
            answer=ABSTENTION[language],
            citations=[],
            sentences=[],
            abstained=True,
            classification=level,
            explanation={"engine": "none: nothing relevant was found"},
        )

    async def _keep(self, principal: Principal, answer: Answer) -> None:
        answer.explanation |= {
            "sentences": [asdict(sentence) for sentence in answer.sentences],
            "citations": [asdict(citation) for citation in answer.citations],
            "abstained": answer.abstained,
            "backend": answer.backend,
            "jurisdiction": answer.jurisdiction,
        }
        row = AnswerRow(
            id=answer.id,
            tenant=principal.tenant.name,
            key_id=principal.key_id,
            classification=answer.classification,
            created_at=datetime.now(UTC),
            explanation_json=orjson.dumps(answer.explanation).decode(),
        )
        # The explanation quotes the passages (and the model's sentences): whoever they mention, the
        # stored answer mentions too, and goes when they are erased.
        mentioned = await asyncio.to_thread(
            self.knowledge.subjects.in_texts, list(strings_in(answer.explanation))
        )
        async with self.knowledge.database.session() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add_all(
                SubjectMentionRow(
                    tenant=row.tenant, subject=subject, type=entity_type.value, answer_id=row.id
                )
                for subject, entity_type in mentioned
            )

    async def explanation(self, principal: Principal, answer_id: str) -> dict[str, Any]:
        async with self.knowledge.database.session() as session:
            row = await session.get(AnswerRow, answer_id)
        if (
            row is None
            or row.tenant != principal.tenant.name
            or row.classification not in self.knowledge.levels_up_to(principal.clearance)
        ):
            raise NotFound(f"no answer with id {answer_id!r}", param="answer_id")
        record: dict[str, Any] = json.loads(row.explanation_json)
        return {"id": row.id, "classification": row.classification, "created_at": row.created_at} | record


def citation_of(n: int, result: Result, start: int, end: int) -> Citation:
    chunk = result.chunk
    return Citation(
        n=n,
        document_id=chunk.document_id,
        title=result.title,
        page=chunk.page,
        quote=chunk.text[start:end],
        start=chunk.start + start,
        end=chunk.start + end,
        chunk_id=chunk.id,
    )


def _retrieval_record(retrieval: Retrieval, best: float) -> dict[str, Any]:
    kept = {result.chunk.id for result in retrieval.results}
    candidates: dict[int, dict[str, Any]] = {}
    for retriever, hits in (("lexical", retrieval.lexical), ("vector", retrieval.vector)):
        for hit in hits:
            entry = candidates.setdefault(
                hit.chunk_id, {"chunk_id": hit.chunk_id, "kept": hit.chunk_id in kept}
            )
            entry[f"{retriever}_rank"], entry[f"{retriever}_score"] = hit.rank, hit.score
    return {
        "question_language": retrieval.language,
        "candidates": sorted(candidates.values(), key=lambda entry: (not entry["kept"], entry["chunk_id"])),
        "kept": [
            {
                "chunk_id": result.chunk.id,
                "document_id": result.chunk.document_id,
                "fused_score": result.fused.score,
            }
            for result in retrieval.results
        ],
        "best_sentence_similarity": best,
        "thresholds": {"relevant": RELEVANT, "supported": SUPPORTED, "supported_words": SUPPORTED_WORDS},
    }


def _best_similarity(vector: np.ndarray, passage_vectors: np.ndarray) -> float:
    return float(np.max(passage_vectors @ vector)) if len(passage_vectors) else 0.0


def _word_share(sentence: str, passages: list[str]) -> float:
    """The share of the sentence's content words found in the passages."""
    words = set(_WORD.findall(sentence.lower()))
    lowered = [passage.lower() for passage in passages]
    present = {word for word in words if any(word in passage for passage in lowered)}
    return len(present) / len(words) if words else 0.0


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text))


def _stems(text: str) -> set[str]:
    """Crude stems in any language: the first five letters of words of four letters or more, without
    accents, so "adultes" meets "adulte" and "délai" meets "delai"."""
    return {word[:5] for word in _WORD.findall(folded(text))}


def numbered_passages(results: list[Result]) -> str:
    """The passages as a model reads them: `[n] title (page p)`, then the text."""
    return "\n\n".join(
        f"[{n}] {source_of(result)}\n{result.chunk.text}" for n, result in enumerate(results, start=1)
    )


def highest_level(deployment: Deployment, level: str, results: list[Result]) -> str:
    """An answer's classification: the highest of the request's and of its sources'."""
    return max([level, *(result.chunk.classification for result in results)], key=deployment.rank)


def source_of(result: Result) -> str:
    return f"{result.title} (page {result.chunk.page})" if result.chunk.page else result.title


def _content(body: bytes) -> str:
    choices = orjson.loads(body).get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content.strip() if isinstance(content, str) else ""


def _new_id() -> str:
    return "ans-" + secrets.token_hex(10)
