"""Phone numbers of EU regions, in national formats (with the language's hint) and international ones."""

from __future__ import annotations

import phonenumbers
import pytest

from souverain.privacy.recognizers.phones import CUED_REGIONS, PhoneRecognizer


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
        ("Ref. 01 234 56", "en"),  # too short for Ireland, and no word for a phone near
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mobile: 0470 12 34 56, after six.", ("0470 12 34 56", "BE")),  # grouped the Belgian way
        ("Mobile: 04 70 12 34 56, after six.", ("04 70 12 34 56", "FR")),  # the same digits, the French way
        ("Personal info:\nPhone:\n030 1234567\n", ("030 1234567", "DE")),
        ("reach her on 612 34 56 78 office", ("612 34 56 78", "ES")),
        ("Tel.: (201) 555-0123", ("(201) 555-0123", "US")),  # not the Irish 555-0123 inside
        ("Phone: (416) 234-5678", ("(416) 234-5678", "CA")),  # ten digits, not a Luxembourg number
        ("Tel. 07797 123456", ("07797 123456", "JE")),  # Jersey shares the United Kingdom's +44
        ("Tel.: 33 6 12 34 56 78", ("33 6 12 34 56 78", "FR")),  # a country code without its plus
        ("Tel.: 011 33 6 12 34 56 78", ("011 33 6 12 34 56 78", "FR")),  # North America's exit code
        ("Tel: ٠٤٧٠ ١٢ ٣٤ ٥٦", ("٠٤٧٠ ١٢ ٣٤ ٥٦", "BE")),  # Arabic-Indic digits, as libphonenumber reads them
    ],
)
def test_next_to_a_phone_word_a_number_of_any_european_region_is_found(
    text: str, expected: tuple[str, str]
) -> None:
    # The letter is in English: Ireland, the United Kingdom and Malta are its regions; the word for a
    # phone lets numbers of the other European regions and North America count too. Where the digits
    # fit several regions, the one that writes them the way they are written is named.
    assert phones(text, "en") == [expected]


def test_the_languages_own_regions_come_first() -> None:
    # Valid in Ireland as written, and in Austria: the English text's own region is named.
    assert phones("Handy 0664 123456", "en") == [("0664 123456", "IE")]
    assert phones("puh. 018 501 2015", "fi") == [("018 501 2015", "AX")]  # Åland shares Finland's +358


@pytest.mark.parametrize(
    "text",
    [
        "Our offices are at 17151 2450 Rue Haute.",  # a street number and a postcode
        "File 0470 12 34 56 was closed.",  # a Belgian mobile's shape, but nothing says it is one
        "The hotel 030 1234567 is cheap.",  # "tel" inside a word is no word for a phone
        "It was during the afternoon, file" + " " * 16 + "0470 12 34 56 waits.",  # "ring" ends "during"
        "File 0470 12 34 56 ....... telling more.",  # "tel" begins "telling"
    ],
)
def test_without_a_phone_word_only_the_languages_regions_count(text: str) -> None:
    assert phones(text, "en") == []


@pytest.mark.parametrize("region", CUED_REGIONS)
@pytest.mark.parametrize(
    "kind", [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
)
def test_every_regions_example_numbers_pass_the_screen_before_libphonenumber(
    region: str, kind: phonenumbers.PhoneNumberType
) -> None:
    # The recognizer skips a region when no part of a number fits the region's pattern; libphonenumber's
    # own example numbers, written the national way, must never be skipped.
    example = phonenumbers.example_number_for_type(region, kind)
    written = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    found = phones(f"Phone: {written}.", "en")
    assert [text for text, _ in found] == [written]
    number = phonenumbers.parse(written, found[0][1])
    assert phonenumbers.is_valid_number(number)


def test_a_short_number_inside_a_longer_run_is_not_reported() -> None:
    # libphonenumber reads "5678" as a valid four-digit Luxembourg number; no number that short is
    # reported, as none is looked for.
    assert phones("Tel. 1234 5678", "en") == []
