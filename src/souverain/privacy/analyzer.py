"""Runs the recognizers over a text and keeps, where findings overlap, the most certain one."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace

from souverain.privacy.base import Recognizer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.folding import fold
from souverain.privacy.shared_work import one_analysis


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
        with one_analysis():  # what the recognizers share of this text lives until the end of the block
            for recognizer in self.recognizers:
                if types is not None and recognizer.types.isdisjoint(types):
                    continue
                for entity in recognizer.find(folded.text, language):
                    if entity.score >= self.min_score and (types is None or entity.type in types):
                        start, end = folded.span(entity.start, entity.end)
                        found.append(replace(entity, start=start, end=end))
        return _without_overlaps(found)


def _without_overlaps(entities: list[Entity]) -> list[Entity]:
    """Most certain first, then longest (a card number beats a phone number inside it): the first to
    claim a character keeps it. Only findings that overlap, directly or through others, compete, so each
    such cluster is settled on its own: most are a single finding, and a text with a hundred thousand
    findings costs a sort, not a hundred thousand insertions into one list."""
    entities.sort(key=lambda entity: (entity.start, entity.end))
    kept: list[Entity] = []
    cluster: list[Entity] = []
    reach = -1
    for entity in entities:
        if cluster and entity.start >= reach:
            kept += _settled(cluster)
            cluster = []
        cluster.append(entity)
        reach = max(reach, entity.end) if len(cluster) > 1 else entity.end
    kept += _settled(cluster)
    return kept


def _settled(cluster: list[Entity]) -> list[Entity]:
    if len(cluster) == 1:
        return cluster
    cluster.sort(key=lambda entity: (-entity.score, entity.start - entity.end, entity.start))
    chosen: list[Entity] = []
    for entity in cluster:
        if not any(entity.overlaps(other) for other in chosen):
            chosen.append(entity)
    return sorted(chosen, key=lambda entity: entity.start)
