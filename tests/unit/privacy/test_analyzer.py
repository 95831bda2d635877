"""The analyzer: recognizers together, overlaps resolved by certainty, spans in the caller's text."""

from __future__ import annotations

from collections.abc import Iterator

from souverain.config_privacy import PrivacyConfig
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.recognizers import build_analyzer


class Fixed:
    """Reports what it is told to, wherever the marker text is found."""

    def __init__(self, name: str, marker: str, entity_type: EntityType, score: float) -> None:
        self.name, self.marker, self.entity_type, self.score = name, marker, entity_type, score
        self.types = frozenset({entity_type})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        start = text.find(self.marker)
        if start >= 0:
            yield Entity(self.entity_type, start, start + len(self.marker), self.score, self.name)


def test_the_more_certain_of_two_overlapping_findings_wins() -> None:
    analyzer = Analyzer(
        [
            Fixed("phones", "4111 1111 1111", EntityType.PHONE, 0.6),
            Fixed("cards", "4111 1111 1111 1111", EntityType.CARD, 0.9),
        ]
    )
    [entity] = analyzer.analyze("card 4111 1111 1111 1111 end")
    assert (entity.type, entity.start, entity.end) == (EntityType.CARD, 5, 24)


def test_findings_below_the_minimum_score_are_dropped() -> None:
    analyzer = Analyzer([Fixed("weak", "123456789", EntityType.TAX_ID, 0.4)], min_score=0.5)
    assert analyzer.analyze("number 123456789") == []


def test_only_the_asked_types_are_looked_for() -> None:
    analyzer = build_analyzer(PrivacyConfig())
    text = "write to jean.dupont@etat.lu"
    assert analyzer.analyze(text, types={EntityType.IBAN}) == []
    [entity] = analyzer.analyze(text, types={EntityType.EMAIL})
    assert text[entity.start : entity.end] == "jean.dupont@etat.lu"


def test_an_address_broken_by_a_zero_width_space_is_found_over_the_original_characters() -> None:
    text = "écrire à jean\u200b.dupont@etat.lu."
    [entity] = build_analyzer(PrivacyConfig()).analyze(text)
    assert text[entity.start : entity.end] == "jean\u200b.dupont@etat.lu"


def test_nothing_is_found_in_an_empty_text() -> None:
    assert build_analyzer(PrivacyConfig()).analyze("") == []


def test_ten_megabytes_without_personal_data_are_analyzed_by_the_pattern_recognizers() -> None:
    # Names are left out: spaCy reads about 50,000 characters a second, so 10 MB take minutes (linear,
    # in pieces; tests/unit/privacy/test_names.py covers the pieces).
    text = ("Le conseil a siégé le 3 mars. " * 350_000)[:10_000_000]
    assert build_analyzer(PrivacyConfig(names="off")).analyze(text) == []
