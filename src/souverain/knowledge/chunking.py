"""A parsed document cut into chunks of whole sentences that never straddle a heading or a page, each
chunk an exact span of the document's text so that citations point at what a person can read."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import py3langid

from souverain.knowledge.parsing.base import ParsedDocument, Section
from souverain.knowledge.sentences import sentence_spans, trimmed

FALLBACK_LANGUAGE = "en"
# A small last piece (under SMALL_PIECE times the target) joins the chunk before it when the result
# stays under MERGE_LIMIT times the target: a trailing half-sentence alone is a poor search result.
MERGE_LIMIT = 1.5
SMALL_PIECE = 0.5

# Language detection reads a few windows spread over the text, not all of it: enough to decide, and a
# table of contents or a bibliography at one end cannot outvote the body.
_SAMPLE_WINDOWS = 4
_WINDOW_CHARS = 1000
_MIN_LETTERS = 12
_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ChunkDraft:
    """One chunk before it is stored: `text == document.text[start:end]`, never blank at either end."""

    text: str
    start: int
    end: int
    page: int | None
    heading: str
    ordinal: int  # 0-based position in the document


def detect_language(text: str) -> str:
    """The ISO 639-1 code of the text's language, or "" when the text is too short or the guess unsure."""
    sample = _sample(text)
    if sum(character.isalpha() for character in sample) < _MIN_LETTERS:
        return ""
    ranked = py3langid.rank(sample)
    best, best_score = ranked[0]
    # py3langid ranks by raw log-likelihood; turned into a probability as its own normalising mode does
    # (a softmax at temperature √bytes), which it offers only on a separately loaded model.
    temperature = math.sqrt(len(unicodedata.normalize("NFC", sample).encode()))
    confidence = 1 / sum(math.exp((score - best_score) / temperature) for _, score in ranked)
    if confidence < _MIN_CONFIDENCE or len(best) != 2:
        return ""  # "zxx" (no language), 3-letter codes and weak guesses alike
    return str(best)


def chunk_document(parsed: ParsedDocument, language: str, target_chars: int) -> list[ChunkDraft]:
    """Chunks of whole sentences, about `target_chars` long, section by section, in document order.

    A sentence longer than the target is cut at a line break or space; a small last piece of a section
    joins the chunk before it when the two stay under MERGE_LIMIT times the target. Linear time.
    """
    if target_chars < 1:
        raise ValueError("target_chars must be at least 1")
    text = parsed.text
    chunks: list[ChunkDraft] = []
    for section in parsed.sections:
        for start, end in _pack(text, section, language or FALLBACK_LANGUAGE, target_chars):
            chunks.append(ChunkDraft(text[start:end], start, end, section.page, section.heading, len(chunks)))
    return chunks


def _pack(text: str, section: Section, language: str, target: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    # A heading alone is a useless chunk: it stays with what follows it, even a little past the target.
    heading_alone = False
    for start, end in _pieces(text, section, language, target):
        if current is None:
            current = (start, end)
            heading_alone = bool(section.heading) and text[start:end] == section.heading
        elif end - current[0] <= (MERGE_LIMIT * target if heading_alone else target):
            current = (current[0], end)
            heading_alone = False
        else:
            spans.append(current)
            current = (start, end)
    if current is not None:
        if spans and _small(current, target) and current[1] - spans[-1][0] <= MERGE_LIMIT * target:
            current = (spans.pop()[0], current[1])
        spans.append(current)
    return spans


def _small(span: tuple[int, int], target: int) -> bool:
    return span[1] - span[0] < SMALL_PIECE * target


def _pieces(text: str, section: Section, language: str, target: int) -> Iterator[tuple[int, int]]:
    """The section's sentences as trimmed spans, those longer than the target cut to fit."""
    for start, end in sentence_spans(text, language, section.start, section.end):
        if end - start <= target:
            yield start, end
        else:
            yield from _cut(text, start, end, target)


def _cut(text: str, start: int, end: int, target: int) -> list[tuple[int, int]]:
    """Cut a too-long span into pieces of at most `target` characters: at the last line break in the
    second half of the window, else at the last space or tab, else (one unbroken token) at the limit.
    A small remainder stays with the piece before it, as the end of the same sentence."""
    pieces: list[tuple[int, int]] = []
    while end - start > target:
        limit = start + target
        cut = text.rfind("\n", start + target // 2, limit + 1)
        if cut <= start:
            cut = max(text.rfind(" ", start + 1, limit + 1), text.rfind("\t", start + 1, limit + 1))
        if cut <= start:
            cut = limit
        piece = trimmed(text, start, cut)
        if piece is not None:
            pieces.append(piece)
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        if pieces and _small((start, end), target) and end - pieces[-1][0] <= MERGE_LIMIT * target:
            pieces[-1] = (pieces[-1][0], end)
        else:
            pieces.append((start, end))
    return pieces


def _sample(text: str) -> str:
    if len(text) <= _SAMPLE_WINDOWS * _WINDOW_CHARS:
        return text
    stride = (len(text) - _WINDOW_CHARS) // (_SAMPLE_WINDOWS - 1)
    return "\n".join(
        text[index * stride : index * stride + _WINDOW_CHARS] for index in range(_SAMPLE_WINDOWS)
    )
