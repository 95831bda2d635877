"""Words that, shortly before a number, say which identifier it is: in the languages of the country
that issues it, and English. Lower case; a word matches anywhere in the window, so stems do."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping

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


_LETTER = re.compile(r"[^\W\d_]")


class ContextIndex:
    """Where the context words of each format occur around one run of numbers, found in one search
    of that stretch of text, so that asking whether a number has one near costs a binary search."""

    def __init__(
        self,
        pattern: re.Pattern[str],
        subtypes_by_word: Mapping[str, tuple[str, ...]],
        text: str,
        start: int,
        end: int,
    ) -> None:
        self._positions: dict[str, list[int]] = {}
        self._all: list[int] = []  # of any word, to skip numbers with none near in one search
        offset = max(0, start - WINDOW_BEFORE)
        stretch = text[offset : end + WINDOW_AFTER]
        if _LETTER.search(stretch) is None:  # a dump of digits: nothing to look for
            return
        for match in pattern.finditer(stretch.lower()):
            self._all.append(offset + match.start())
            for subtype in subtypes_by_word[match.group()]:
                self._positions.setdefault(subtype, []).append(offset + match.start())

    def near(self, subtype: str | None, start: int, end: int) -> bool:
        """Whether a context word of `subtype` (of any format if None) is close to [start, end)."""
        positions = self._all if subtype is None else self._positions.get(subtype)
        if not positions:
            return False
        index = bisect_left(positions, start - WINDOW_BEFORE)
        return index < len(positions) and positions[index] <= end + WINDOW_AFTER


def context_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One alternation of every word, longest first. Short words (up to 3 letters: "nir", "bsn") must
    stand alone, or they would match inside other words; longer ones are stems and match anywhere."""
    alternatives = sorted(set(words), key=len, reverse=True)
    return re.compile(
        "|".join(
            rf"(?<!\w){re.escape(word)}(?!\w)" if len(word) <= 3 else re.escape(word) for word in alternatives
        )
    )
