"""Phone numbers of EU regions, in national formats (with the language's hint) and international ones."""

from __future__ import annotations

import pytest

from souverain.privacy.recognizers.phones import PhoneRecognizer


def phones(text: str, language: str | None) -> list[tuple[str, str | None]]:
    return [(text[e.start : e.end], e.subtype) for e in PhoneRecognizer().find(text, language)]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Appelez le 01 42 68 53 00 demain.", "fr", ("01 42 68 53 00", "FR")),
        ("Tél. : 06.12.34.56.78.", "fr", ("06.12.34.56.78", "FR")),
        ("Rufen Sie 030 1234567 an.", "de", ("030 1234567", "DE")),
        ("Llame al 912 345 678, gracias.", "es", ("912 345 678", "ES")),
        ("Chiamare lo 06 4991 1234.", "it", ("06 4991 1234", "IT")),
        ("Bel 020 123 4567 voor vragen.", "nl", ("020 123 4567", "NL")),
        ("Zadzwoń: 22 123 45 67.", "pl", ("22 123 45 67", "PL")),
        ("Soita 09 1234 5678.", "fi", ("09 1234 5678", "FI")),
        ("Ring 01 234 5678 today.", "en", ("01 234 5678", "IE")),
        ("Call +352 26 12 34 56 or not.", "en", ("+352 26 12 34 56", "LU")),
        ("Hívja: +36 1 234 5678.", "hu", ("+36 1 234 5678", "HU")),
        ("Numéro : 0032 2 555 12 34", "fr", ("0032 2 555 12 34", "BE")),
        ("Call +49 30 1234567 (no language given)", None, ("+49 30 1234567", "DE")),
    ],
)
def test_numbers_of_eu_regions(text: str, language: str | None, expected: tuple[str, str]) -> None:
    assert phones(text, language) == [expected]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le dossier 2015-12-22 11:34:35 est clos.", "en"),  # a time stamp, not a number
        ("Facture n° 12345 du 12/03/2024, montant 1 234,56 EUR.", "fr"),
        ("Call 01 234 56", "en"),  # too short for Ireland
        ("Call +32 2 123 45 67", "en"),  # no such Brussels number
    ],
)
def test_what_is_not_a_valid_number(text: str, language: str) -> None:
    assert phones(text, language) == []


def test_every_number_of_a_long_text_is_found() -> None:
    # libphonenumber's matcher gives up after 65,535 candidates in one text; each run of digits here is
    # handed to it alone, so the last number of a long document counts as much as the first.
    text = "Année 2024, réf. 123456, 1 234 567 EUR.\n" * 3_000 + "tél. 01 42 68 53 00."
    assert phones(text, "fr") == [("01 42 68 53 00", "FR")]


@pytest.mark.parametrize(
    "text",
    ["", "+", "+" * 1000, "0" * 100_000, "1 " * 20_000],
    ids=["empty", "plus", "pluses", "zeros", "ones"],
)
def test_degenerate_inputs(text: str) -> None:
    phones(text, "fr")
