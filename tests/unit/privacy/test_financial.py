"""IBAN, EU VAT numbers and payment cards; examples from python-stdnum's doctests and the card schemes'
published test numbers."""

from __future__ import annotations

import pytest

from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import EntityType
from souverain.privacy.recognizers.financial import FinancialRecognizer


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer([FinancialRecognizer(0.5)], min_score=0.5)


@pytest.mark.parametrize(
    ("text", "value", "entity_type"),
    [
        ("Virement sur LU28 0019 4006 4475 0000 svp", "LU28 0019 4006 4475 0000", EntityType.IBAN),
        ("IBAN: GR1601101050000010547023795.", "GR1601101050000010547023795", EntityType.IBAN),
        ("Rekening NL91 ABNA 0417 1643 00 ten name van", "NL91 ABNA 0417 1643 00", EntityType.IBAN),
        ("N° TVA intracommunautaire FR 40 303 265 045", "FR 40 303 265 045", EntityType.VAT),
        ("UID-Nummer ATU13585627", "ATU13585627", EntityType.VAT),
        ("ΑΦΜ EL 094259216 ", "EL 094259216", EntityType.VAT),
        ("Visa 4111 1111 1111 1111 exp 12/29", "4111 1111 1111 1111", EntityType.CARD),
        ("Carte 5555-5555-5555-4444.", "5555-5555-5555-4444", EntityType.CARD),
        ("Amex 3782 822463 10005", "3782 822463 10005", EntityType.CARD),
    ],
)
def test_valid_numbers_are_found(analyzer: Analyzer, text: str, value: str, entity_type: EntityType) -> None:
    [entity] = analyzer.analyze(text)
    assert (entity.type, text[entity.start : entity.end]) == (entity_type, value)


@pytest.mark.parametrize(
    "text",
    [
        "Virement sur LU28 0019 4006 4475 0001 svp",  # IBAN check digits fail
        "N° TVA FR 41 303 265 045",
        "UID-Nummer ATU13585626",
        "Visa 4111 1111 1111 1112",  # Luhn fails
        "Ref 1234 5678 9012 3456 7890",  # no scheme issues 1234
        "BE36 5390 0754 7034 1234",  # a mistyped IBAN: no card or ID inside it either
    ],
)
def test_numbers_failing_their_checksum_are_not_reported(analyzer: Analyzer, text: str) -> None:
    assert analyzer.analyze(text) == []


def test_an_iban_with_full_width_digits_and_a_zero_width_space_is_covered_whole(analyzer: Analyzer) -> None:
    value = "\uff2c\uff35\uff12\uff18 0019\u200b4006\u00a04475 0000"
    text = f"IBAN\u200f {value}, merci"
    [entity] = analyzer.analyze(text)
    assert (entity.type, entity.subtype, text[entity.start : entity.end]) == (EntityType.IBAN, "iban", value)
