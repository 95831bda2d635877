"""Dates of birth: a date in a common EU format (31/12/1980, 31.12.1980, 1980-12-31, 31 décembre 1980,
December 31, 1980) that follows, within a few words, a birth cue in one of the 24 official languages
("né le", "born on", "geboren am", "data urodzenia", "syntymäaika", …).

A date alone is not personal data: the cue is what makes it someone's birth date. Each cue looks at a
bounded window after it, so time is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.patterns import by_first_character, lower_keeping_offsets

SCORE = 0.85
WINDOW = 40  # characters after a cue where its date may start: "né le", "born on the", "geb. am"
WINDOW_BEFORE = 12  # characters between a date and a cue after it: "1970 geboren", "1970 r. urodzony"

# Stems that mark a birth, by language: bg, cs, da, de, el, en, es, et, fi, fr, ga, hr, hu, it, lt, lv,
# mt, nl, pl, pt, ro, sk, sl, sv. Lower case: the text is lowered once, not matched ignoring case (three
# times slower in `re`); a Greek final sigma may be lowered either way (letter by letter, it is not final).
_CUES = (
    *(r"роден[аo]?", r"дата\s+на\s+раждане"),  # noqa: RUF001 (Cyrillic and Greek on purpose)
    *(r"narozen[aá]?", r"datum\s+narození"),
    *(r"født", r"fødselsdato"),
    *(r"geboren", r"geb\.", r"geburtsdatum", r"geburtstag"),
    *(r"γεννήθηκε", r"γεννημέν[οη][ςσ]?", r"ημερομηνία\s+γέννηση[ςσ]", r"ημ\.\s*γέννηση[ςσ]"),
    *(r"born", r"date\s+of\s+birth", r"birth\s+date", r"birthdate", r"birthday", r"d\.?o\.?b\.?"),
    *(r"nacid[oa]", r"fecha\s+de\s+nacimiento", r"f\.\s*nac\."),
    *(r"sündinud", r"sünniaeg", r"sünnikuupäev"),
    *(r"syntynyt", r"syntymäaika", r"syntymäpäivä"),
    *(r"née?", r"date\s+de\s+naissance"),
    *(r"rugadh", r"dáta\s+breithe"),
    *(r"rođen[ai]?", r"datum\s+rođenja"),
    *(r"született", r"születési\s+(?:idő|dátum|ideje)", r"szül\."),
    *(r"nat[oa]", r"data\s+di\s+nascita"),
    *(r"gimęs", r"gimusi", r"gimimo\s+data"),
    *(r"dzimis", r"dzimusi", r"dzimšanas\s+datums"),
    *(r"twieled", r"twieldet", r"data\s+tat-twelid"),
    r"geboortedatum",
    *(r"urodzon[ya]", r"data\s+urodzenia", r"ur\."),
    *(r"nascid[oa]", r"data\s+de\s+nascimento"),
    *(r"născut[ăa]?", r"data\s+na[șş]terii"),
    *(r"narodený", r"narodená", r"dátum\s+narodenia"),
    *(r"rojen[a]?", r"datum\s+rojstva"),
    *(r"född", r"födelsedatum"),
)
_CUE = re.compile(rf"(?<!\w)(?:{by_first_character(_CUES)})(?!\w)")
# Day, month and year in digits with one separator, or the ISO order; or a day, a month's name in any
# language and a year; or the English month-first order. Years of four digits only: "12/03/85" is too
# often something else.
_DATE = re.compile(
    r"(?<!\d)(?:"
    r"(?P<day>\d{1,2})(?P<separator>[./-])\s?(?P<month>\d{1,2})(?P=separator)\s?(?P<year>\d{4})"
    r"|(?P<iso_year>\d{4})(?P<iso_separator>[-.])\s?(?P<iso_month>\d{1,2})(?P=iso_separator)\s?"
    r"(?P<iso_day>\d{1,2})"  # ISO 8601, and Hungarian "1980. 03. 12."
    r"|(?P<named_day>\d{1,2})(?:\.|er|st|nd|rd|th)?\s{1,3}(?:de\s|of\s)?[^\W\d_]{3,12}\.?\s{1,3}"
    r"(?:de\s)?(?P<named_year>\d{4})"
    r"|[^\W\d_]{3,12}\.?\s{1,3}(?P<english_day>\d{1,2})(?:st|nd|rd|th)?,?\s{1,3}(?P<english_year>\d{4})"
    r")(?!\d)"
)


class BirthDateRecognizer:
    name = "birth_dates"
    types = frozenset({EntityType.DATE_OF_BIRTH})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        last_end = -1
        for cue in _CUE.finditer(lower_keeping_offsets(text)):
            found = _date_after(text, cue.end()) or _date_before(text, cue.start())
            if found is not None and found.start() >= last_end and _plausible(found):
                last_end = found.end()
                yield Entity(EntityType.DATE_OF_BIRTH, found.start(), found.end(), SCORE, self.name)


def _date_after(text: str, position: int) -> re.Match[str] | None:
    # The date may start up to WINDOW characters on and is at most ~40 long: the search is bounded.
    found = _DATE.search(text, position, min(len(text), position + WINDOW + 40))
    return found if found is not None and found.start() - position <= WINDOW else None


def _date_before(text: str, position: int) -> re.Match[str] | None:
    """A date ending just before the cue, as German and Dutch write it: "am 3. Mai 1970 geboren"."""
    last = None
    for found in _DATE.finditer(text, max(0, position - WINDOW_BEFORE - 40), position):
        last = found
    return last if last is not None and position - last.end() <= WINDOW_BEFORE else None


def _plausible(found: re.Match[str]) -> bool:
    """A real calendar date (or, for a named month, a real day) of a living or recent person."""
    groups = found.groupdict()
    if groups["day"] is not None:
        parts = (groups["year"], groups["month"], groups["day"])
    elif groups["iso_year"] is not None:
        parts = (groups["iso_year"], groups["iso_month"], groups["iso_day"])
    else:
        day = groups["named_day"] or groups["english_day"]
        year = groups["named_year"] or groups["english_year"]
        return 1 <= int(day) <= 31 and 1850 <= int(year) <= 2100
    year, month, day = (int(part) for part in parts)
    if not 1850 <= year <= 2100:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
