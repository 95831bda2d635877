"""Runs the recognizers over a text and keeps, where findings overlap, the most certain one."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Sequence
from dataclasses import replace

from souverain.privacy.base import Recognizer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.folding import fold


class Analyzer:
    def __init__(self, recognizers: Sequence[Recognizer], min_score: float = 0.5) -> None:
        self.recognizers = tuple(recognizers)
        self.min_score = min_score

    @property
    def types(self) -> frozenset[EntityType]:
        return frozenset().union(*(recognizer.types for recognizer in self.recognizers))

    def analyze(
        self, text: str, language: str | None = None, types: Collection[EntityType] | None = None
    ) -> list[Entity]:
        """The personal data in `text`, without overlaps, in order; spans index `text` itself."""
        if not text:
            return []
        folded = fold(text)
        found: list[Entity] = []
        for recognizer in self.recognizers:
            if types is not None and recognizer.types.isdisjoint(types):
                continue
            for entity in recognizer.find(folded.text, language):
                if entity.score >= self.min_score and (types is None or entity.type in types):
                    start, end = folded.span(entity.start, entity.end)
                    found.append(replace(entity, start=start, end=end))
        return _without_overlaps(found)


def _without_overlaps(entities: list[Entity]) -> list[Entity]:
    # Most certain first, then longest (a card number beats a phone number inside it); the first to
    # claim a character keeps it.
    entities.sort(key=lambda entity: (-entity.score, entity.start - entity.end, entity.start))
    kept: list[Entity] = []
    starts: list[int] = []
    for entity in entities:
        position = bisect_left(starts, entity.start)
        if position > 0 and kept[position - 1].end > entity.start:
            continue
        if position < len(kept) and kept[position].start < entity.end:
            continue
        starts.insert(position, entity.start)
        kept.insert(position, entity)
    return kept
