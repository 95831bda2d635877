"""National, tax and social security numbers of the 27 member states, found in sentences as people
write them. Examples are python-stdnum's own doctest examples unless a comment says where from."""

from __future__ import annotations

import pytest

from souverain.config_privacy import PrivacyConfig
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import EntityType
from souverain.privacy.recognizers import build_analyzer
from souverain.privacy.recognizers.identifiers import IdentifierRecognizer

NATIONAL, TAX, SOCIAL = EntityType.NATIONAL_ID, EntityType.TAX_ID, EntityType.SOCIAL_SECURITY

# (country, context sentence start, value, an invalid variant, type, subtype)
EXAMPLES = [
    ("at", "Steuernummer", "59-119/9013", "59-119/9012", TAX, "at.tin"),
    ("be", "Numéro national :", "85 07 30 033 28", "85 07 30 033 29", NATIONAL, "be.nn"),
    ("bg", "ЕГН", "8032056031", "8032056030", NATIONAL, "bg.egn"),
    ("cy", "Αριθμός φορολογικού μητρώου", "10259033P", "10259033Z", TAX, "cy.vat"),
    ("cz", "Rodné číslo", "710319/2745", "710319/2746", NATIONAL, "cz.rc"),
    ("de", "Steuer-ID", "36 574 261 809", "36 574 261 890", TAX, "de.idnr"),
    ("dk", "CPR-nummer", "211062-5629", "211362-5629", NATIONAL, "dk.cpr"),
    ("ee", "Isikukood", "36805280109", "36805280108", NATIONAL, "ee.ik"),
    ("es", "DNI", "54362315-K", "54362315-Z", NATIONAL, "es.dni"),
    ("fi", "Henkilötunnus", "131052-308T", "131052-308U", NATIONAL, "fi.hetu"),
    ("fr", "Numéro de sécurité sociale", "2 95 10 99 126 111 93", "2 95 10 99 126 111 92", SOCIAL, "fr.nir"),
    ("gr", "Αριθμός μητρώου κοινωνικής ασφάλισης", "01013099997", "01013099999", SOCIAL, "gr.amka"),
    ("hr", "OIB", "33392005961", "33392005962", NATIONAL, "hr.oib"),
    # vkovacs/Tax-number-generator (main.py), after hu.wikipedia.org/wiki/Adóazonosító_jel
    ("hu", "Adóazonosító jel", "8422780135", "8422780136", TAX, "hu.tax_id"),
    ("ie", "PPS number", "6433435F", "6433435E", NATIONAL, "ie.pps"),
    ("it", "Codice fiscale", "RCCMNL83S18D969H", "RCCMNL83S18D969J", TAX, "it.codicefiscale"),
    ("lt", "Asmens kodas", "33309240064", "33309240164", NATIONAL, "lt.asmens"),
    # OECD, "Luxembourg - Information on Tax Identification Numbers", example of a matricule
    ("lu", "Matricule", "1893120105732", "1893120105733", NATIONAL, "lu.national_id"),
    ("lv", "Personas kods", "161175-19997", "161175-19996", NATIONAL, "lv.pvn"),
    ("nl", "BSN", "1112.22.333", "1112.52.333", NATIONAL, "nl.bsn"),
    ("pl", "PESEL", "44051401359", "44051401358", NATIONAL, "pl.pesel"),
    ("pt", "Cartão de Cidadão", "00000000 0 ZZ4", "00000000 0 ZZ3", NATIONAL, "pt.cc"),
    ("ro", "CNP", "1630615123457", "1632215123457", NATIONAL, "ro.cnp"),
    ("se", "Personnummer", "880320-0016", "880320-0018", NATIONAL, "se.personnummer"),
    ("si", "EMŠO", "0101006500006", "0101006500007", NATIONAL, "si.emso"),
    ("sk", "Rodné číslo", "7103192745", "7103192746", NATIONAL, "sk.rc"),
]
# Malta's identity card has no check digit: only its shape, next to a context word (none to fail).
MALTA = ("mt", "Identity card", "1234567M", "1234567Q", NATIONAL, "mt.identity_card")

LANGUAGE = {"at": "de", "cz": "cs", "sk": "sk", "ee": "et", "lt": "lt"}


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer([IdentifierRecognizer(0.5)], min_score=0.5)


def test_every_member_state_has_an_example() -> None:
    countries = {example[0] for example in [*EXAMPLES, MALTA]}
    assert len(countries) == 27


Example = tuple[str, str, str, str, EntityType, str]


@pytest.mark.parametrize("example", [*EXAMPLES, MALTA], ids=lambda example: example[5])
def test_a_valid_number_is_found_with_its_type_subtype_and_span(analyzer: Analyzer, example: Example) -> None:
    country, word, value, _, entity_type, subtype = example
    text = f"{word}: {value}. Merci."
    [entity] = analyzer.analyze(text, LANGUAGE.get(country))
    assert (entity.type, entity.subtype, text[entity.start : entity.end]) == (entity_type, subtype, value)
    assert entity.recognizer == "identifiers"


@pytest.mark.parametrize("example", [*EXAMPLES, MALTA], ids=lambda example: example[5])
def test_a_number_that_fails_its_checksum_is_not_reported(analyzer: Analyzer, example: Example) -> None:
    country, word, _, invalid, _, _ = example
    assert analyzer.analyze(f"{word}: {invalid}. Merci.", LANGUAGE.get(country)) == []


@pytest.mark.parametrize(
    ("text", "subtype"),
    [
        ("Née le 30 juillet 1985, n° 2 95 10 99 126 111 93, assurée", "fr.nir"),  # strong: no context needed
        ("Rijksregisternummer 85.07.30-033.28 van de aanvrager", "be.nn"),
        ("Kodu: PESEL44051401359", None),  # glued to a word: not a number of its own
        ("hetu 131052-308T, syntynyt", "fi.hetu"),
        ("Steuernummer 59 119 9013", "at.tin"),
        ("Steuer-Identifikationsnummer 36574261809 (Finanzamt)", "de.idnr"),
        ("Codice fiscale rccmnl83s18d969h", "it.codicefiscale"),  # lower case
        # Every digit replaced by its letter (omocodia), check letter computed again by python-stdnum.
        ("Codice fiscale: RCCMNLUPSMUDVSVO.", "it.codicefiscale"),
    ],
)
def test_written_forms(analyzer: Analyzer, text: str, subtype: str | None) -> None:
    assert [entity.subtype for entity in analyzer.analyze(text)] == ([subtype] if subtype else [])


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Partita IVA: IT 0 0 6 1 8 2 8 0 4 9 9.", "it"),  # digit by digit: 12 tokens
        ("NIF-IVA: ES-x-2482300w.", "es"),  # a lower-case check letter between dashes
    ],
)
def test_vat_numbers_written_oddly(text: str, language: str) -> None:
    [entity] = build_analyzer(PrivacyConfig(names="off")).analyze(text, language)
    assert (entity.subtype, text[entity.start : entity.end]) == ("eu.vat", text[text.index(":") + 2 : -1])


def test_an_ambiguous_number_needs_its_context_word() -> None:
    recognizer = IdentifierRecognizer()
    [alone] = [entity for entity in recognizer.find("Le numéro 111222333 est attribué.", None)]
    [with_context] = list(recognizer.find("BSN 111222333 is toegekend.", None))
    assert alone.score < 0.5 <= with_context.score
    assert with_context.subtype == "nl.bsn"


def test_a_context_word_of_another_country_does_not_help(analyzer: Analyzer) -> None:
    assert analyzer.analyze("PESEL 111222333") == []


def test_a_number_inside_a_longer_dotted_number_is_not_reported(analyzer: Analyzer) -> None:
    assert analyzer.analyze("Référence 12.44051401359.77") == []


def test_the_language_picks_between_countries_sharing_a_format(analyzer: Analyzer) -> None:
    [czech] = analyzer.analyze("rodné číslo 710319/2745", "cs")
    [slovak] = analyzer.analyze("rodné číslo 710319/2745", "sk")
    assert (czech.subtype, slovak.subtype) == ("cz.rc", "sk.rc")


def test_empty_text(analyzer: Analyzer) -> None:
    assert analyzer.analyze("") == []
    assert list(IdentifierRecognizer().find("", None)) == []


def test_ten_megabytes_of_digits_and_separators_return(analyzer: Analyzer) -> None:
    text = ("0612345678 12.34-56/78 9 8 7 6 5 4 3 2 1 0 " * 240_000)[: 10 * 1024 * 1024]
    assert isinstance(analyzer.analyze(text), list)
