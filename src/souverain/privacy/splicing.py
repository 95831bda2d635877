"""Replacing spans of a text: the one loop behind masking, pseudonymising and redacting."""

from __future__ import annotations

from collections.abc import Iterable


def spliced(text: str, replacements: Iterable[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, replacement) put in place of its span; the spans sorted, and not
    overlapping (the analyzer's promise)."""
    pieces: list[str] = []
    last = 0
    for start, end, replacement in replacements:
        pieces += text[last:start], replacement
        last = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)
