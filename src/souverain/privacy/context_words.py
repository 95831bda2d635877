"""Words that, shortly before a number, say which identifier it is: in the languages of the country
that issues it, and English. Lower case; a word matches anywhere in the window, so stems do."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import ahocorasick

from souverain.privacy.patterns import lower_keeping_offsets

# Shared by several formats of one country or of the same kind.
_TAX = ("tax id", "tax number", "tin", "taxpayer")
_NATIONAL = ("national id", "identity number", "personal number", "id number", "identification number")
_SOCIAL = ("social security", "insurance number", "ssn")
_DE_TAX = ("steuer", "st.-nr", "stnr", "steuerliche", "finanzamt", "idnr", "identifikationsnummer")
_BIRTH_NUMBER = ("rodné číslo", "rodne cislo", "rodného čísla", "rč", "birth number")
_BANK = ("iban", "bic", "konto", "compte", "cuenta", "conto", "rekening", "account", "bank", "banque")
_VAT = (
    "vat",
    "tva",
    "mwst",
    "ust",
    "uid",
    "btw",
    "iva",
    "nif",
    "dph",
    "dič",
    "pvm",
    "pvn",
    "kmkr",
    "áfa",
    "moms",
    "alv",
    "arvonlisävero",
    "φπα",
    "ддс",
    "pdv",
    "ddv",
    "nip",
    "cui",
    "cif",
    "mva",
)
_CARD = (
    "card",
    "carte",
    "karte",
    "tarjeta",
    "carta",
    "kaart",
    "kort",
    "karta",
    "kartica",
    "kártya",
    "cartão",
    "visa",
    "mastercard",
    "amex",
    "cb",
    "cvv",
    "expir",
)

CONTEXT_WORDS: Mapping[str, tuple[str, ...]] = {
    "at.tin": (*_DE_TAX, "abgabenkonto", *_TAX),
    "at.vnr": ("versicherungsnummer", "sozialversicherung", "svnr", "sv-nr", "e-card", *_SOCIAL),
    "be.nn": (
        "rijksregister",
        "registre national",
        "nationalregister",
        "numéro national",
        "insz",
        "niss",
        "rrn",
        "nn",
        *_NATIONAL,
    ),
    "be.bis": ("bis", "bisnummer", "numéro bis", "insz", "niss", *_NATIONAL),
    "bg.egn": ("егн", "единен граждански номер", "egn", *_NATIONAL),
    "bg.pnf": ("лнч", "личен номер на чужденец", "pnf", *_NATIONAL),
    "cy.vat": ("αριθμός φορολογικού", "φορολογικ", "tic", "αφτ", *_TAX),
    "cy.identity_card": ("ταυτότητ", "δελτίο ταυτότητας", "αδτ", "identity card", "id card"),
    "cz.rc": _BIRTH_NUMBER,
    "sk.rc": _BIRTH_NUMBER,
    "de.idnr": (*_DE_TAX, "steuer-id", *_TAX),
    "de.stnr": (*_DE_TAX, *_TAX),
    "dk.cpr": ("cpr", "personnummer", "cpr-nummer", *_NATIONAL),
    "ee.ik": ("isikukood", "isikukoodi", *_NATIONAL),
    "es.dni": ("dni", "documento nacional", "nif", "d.n.i", *_NATIONAL),
    "es.nie": ("nie", "extranjero", "n.i.e", "nif", *_NATIONAL),
    "fi.hetu": ("henkilötunnus", "hetu", "henkilötunnukse", "personbeteckning", *_NATIONAL),
    "fi.veronumero": ("veronumero", "skattenummer", *_TAX),
    "fr.nir": (
        "sécurité sociale",
        "securite sociale",
        "nir",
        "insee",
        "carte vitale",
        "numéro de sécu",
        *_SOCIAL,
    ),
    "fr.nif": ("numéro fiscal", "numero fiscal", "spi", "référence fiscale", "identifiant fiscal", *_TAX),
    "gr.amka": ("αμκα", "αριθμός μητρώου κοινωνικής", "amka", *_SOCIAL),
    "gr.vat": ("αφμ", "αριθμός φορολογικού μητρώου", "afm", *_TAX),
    "hr.oib": ("oib", "osobni identifikacijski", *_NATIONAL),
    "hu.personal_id": ("személyi azonosító", "személyi szám", "szemelyi", *_NATIONAL),
    "hu.tax_id": ("adóazonosító", "adoazonosito", "adószám", *_TAX),
    "hu.taj": ("taj", "társadalombiztosítási", *_SOCIAL),
    "ie.pps": ("pps", "ppsn", "personal public service", *_NATIONAL),
    "it.codicefiscale": ("codice fiscale", "c.f.", "cod. fisc", *_TAX),
    "lt.asmens": ("asmens kodas", "asmens kod", *_NATIONAL),
    "lu.national_id": (
        "matricule",
        "numéro d'identification",
        "identifikationsnummer",
        "sozialversicherungsnummer",
        "cns",
        "sécurité sociale",
        *_NATIONAL,
    ),
    "lv.pvn": ("personas kods", "personas kod", *_NATIONAL),
    "mt.identity_card": ("karta tal-identità", "identity card", "id card", "karta tal-identita", "id no"),
    "nl.bsn": ("bsn", "burgerservicenummer", "sofinummer", "sofi", *_NATIONAL),
    "pl.pesel": ("pesel", *_NATIONAL),
    "pl.nip": ("nip", "numer identyfikacji podatkowej", *_TAX),
    "pt.cc": ("cartão de cidadão", "cartao de cidadao", "cc n", *_NATIONAL),
    "pt.nif": ("nif", "contribuinte", "número fiscal", *_TAX),
    "ro.cnp": ("cnp", "cod numeric personal", *_NATIONAL),
    "se.personnummer": ("personnummer", "samordningsnummer", *_NATIONAL),
    "si.emso": ("emšo", "emso", "enotna matična", *_NATIONAL),
    "si.ddv": ("davčna številka", "davcna stevilka", "davčna", *_TAX),
    "iban": _BANK,
    "eu.vat": _VAT,
    "luhn": _CARD,
}

# Where formats of two countries accept the same numbers with the same score (Czech and Slovak birth
# numbers, Estonian and Lithuanian personal codes), the text's language picks the country.
LANGUAGE_COUNTRIES: Mapping[str, frozenset[str]] = {
    "bg": frozenset({"bg"}),
    "cs": frozenset({"cz"}),
    "da": frozenset({"dk"}),
    "de": frozenset({"de", "at", "lu"}),
    "el": frozenset({"gr", "cy"}),
    "es": frozenset({"es"}),
    "et": frozenset({"ee"}),
    "fi": frozenset({"fi"}),
    "fr": frozenset({"fr", "be", "lu"}),
    "ga": frozenset({"ie"}),
    "hr": frozenset({"hr"}),
    "hu": frozenset({"hu"}),
    "it": frozenset({"it"}),
    "lb": frozenset({"lu"}),
    "lt": frozenset({"lt"}),
    "lv": frozenset({"lv"}),
    "mt": frozenset({"mt"}),
    "nl": frozenset({"nl", "be"}),
    "pl": frozenset({"pl"}),
    "pt": frozenset({"pt"}),
    "ro": frozenset({"ro"}),
    "sk": frozenset({"sk"}),
    "sl": frozenset({"si"}),
    "sv": frozenset({"se", "fi"}),
}

WINDOW_BEFORE = 48  # characters looked at before the number: "Steuernummer (Finanzamt Wien): "
WINDOW_AFTER = 16  # and after it: "44051401359 (PESEL)"


class ContextWords:
    """The context words of some formats, found in a text in one pass of an Aho-Corasick automaton
    (pyahocorasick): every word at once, in C, where a regular expression of 140 words tries each at
    every character."""

    def __init__(self, subtypes_by_word: Mapping[str, tuple[str, ...]]) -> None:
        self._automaton = ahocorasick.Automaton()
        for word, subtypes in subtypes_by_word.items():
            self._automaton.add_word(word, (word, subtypes))
        if subtypes_by_word:
            self._automaton.make_automaton()

    def index(self, text: str) -> ContextIndex:
        """Where the words occur in `text`; searched on the first question, as most texts ask none."""
        return ContextIndex(self, text)

    def positions(self, text: str) -> tuple[list[int], dict[str, list[int]]]:
        """Start positions of any word, and of the words of each subtype, in order."""
        everywhere: list[int] = []
        by_subtype: dict[str, list[int]] = {}
        if self._automaton.kind != ahocorasick.AHOCORASICK:
            return everywhere, by_subtype
        lowered = lower_keeping_offsets(text)
        found: list[tuple[int, int, tuple[str, ...]]] = []
        for last, (word, subtypes) in self._automaton.iter(lowered):
            start = last + 1 - len(word)
            # Short words ("nir", "bsn") must stand alone, or they would be found inside other words;
            # longer ones are stems and count anywhere ("Einkommensteuer").
            if len(word) > SHORT_WORD or _stands_alone(lowered, start, last + 1):
                found.append((start, -len(word), subtypes))
        # As a reader takes them: the longest word at a place, then on after it. "Steuer-ID" names the
        # identification number only, not every tax number that the stem "steuer" inside it would.
        found.sort()
        reach = 0
        for start, negative_length, subtypes in found:
            if start < reach:
                continue
            reach = start - negative_length
            everywhere.append(start)
            for subtype in subtypes:
                by_subtype.setdefault(subtype, []).append(start)
        return everywhere, by_subtype


SHORT_WORD = 3


def _stands_alone(text: str, start: int, end: int) -> bool:
    return (start == 0 or not _is_word_character(text[start - 1])) and (
        end == len(text) or not _is_word_character(text[end])
    )


def _is_word_character(character: str) -> bool:
    return character.isalnum() or character == "_"


class ContextIndex:
    """Whether a context word is near a number: a binary search in the positions of one text."""

    def __init__(self, words: ContextWords, text: str) -> None:
        self._words = words
        self._text = text
        self._positions: tuple[list[int], dict[str, list[int]]] | None = None

    def near(self, subtype: str | None, start: int, end: int) -> bool:
        """Whether a context word of `subtype` (of any format if None) starts within WINDOW_BEFORE
        characters before [start, end) or WINDOW_AFTER after it."""
        if self._positions is None:
            self._positions = self._words.positions(self._text)
        everywhere, by_subtype = self._positions
        positions = everywhere if subtype is None else by_subtype.get(subtype)
        if not positions:
            return False
        index = bisect_left(positions, start - WINDOW_BEFORE)
        return index < len(positions) and positions[index] <= end + WINDOW_AFTER
