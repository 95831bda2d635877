"""Sentence boundaries in any EU language (sentencex), as character spans into the original text."""

from __future__ import annotations

import sentencex

# sentencex (1.0.x) panics when a capital letter, a non-ASCII space and a period meet ("A\u00a0."):
# it slices its UTF-8 input inside the space. Each such space becomes an ASCII one in the copy it reads;
# both are one character, so the offsets it returns stay valid for the original.
_UNICODE_SPACES = str.maketrans(
    dict.fromkeys([0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000], " ")
)


def sentence_spans(text: str, language: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text[start:end]`, stripped of surrounding white space."""
    end = len(text) if end is None else end
    section = text[start:end]
    readable = section.translate(_UNICODE_SPACES)
    try:
        sentences = list(sentencex.segment(language or "en", readable))
    except BaseException as error:
        # A Rust panic inside sentencex arrives as pyo3's PanicException, a BaseException; the text is
        # then one long "sentence" rather than a failed upload or answer.
        if type(error).__name__ != "PanicException":
            raise
        sentences = [readable]
    if "".join(sentences) != readable:
        sentences = [readable]  # offsets come from the pieces' lengths, so they must tile the text
    spans = []
    position = start
    for sentence in sentences:
        span = trimmed(text, position, position + len(sentence))
        position += len(sentence)
        if span is not None:
            spans.append(span)
    return spans


def trimmed(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span without surrounding whitespace, or None when it is only whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None
