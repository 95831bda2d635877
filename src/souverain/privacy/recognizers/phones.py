"""Phone numbers, through Google's libphonenumber (the `phonenumbers` package): every number it finds and
deems valid for its region, in international form (+NN, 00NN) everywhere, in the national formats of
the regions the text's language points to, and, next to a word that says "phone" in one of the EU's
languages ("Tel.:", "Handy", "téléphone", "Mobile:"), in the national format of any European region or
of North America. Subtype: the number's region, e.g. "FR".

Without such a word, the national formats of every region would take street numbers, postcodes and
file numbers for phone numbers (most four to eight digit runs are valid somewhere in Europe); with it,
a Belgian mobile in an English letter is found."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.patterns import by_first_character, lower_keeping_offsets
from souverain.privacy.phone_screen import digit_runs, likeliest_first, may_be
from souverain.privacy.recognizers.languages import LANGUAGE_REGIONS, text_language

SCORE = 0.8  # libphonenumber checks a number's length and prefixes per region, not that it is in use
# Without a hint, numbers in international form only: "ZZ" is libphonenumber's unknown region.
_UNKNOWN_REGION = "ZZ"
# libphonenumber's own candidate pattern is costly on ordinary prose (every year or amount is tried):
# only runs of digits and separators holding at least MIN_DIGITS digits are handed to it. No EU number
# is shorter; the bounded run keeps the scan linear.
# A plus sign, or an opening bracket or digit with no letter or digit glued before it; each alternative
# starts with its character, so that the search skips to those in C.
CANDIDATE = re.compile(r"(?:\+\(?\d|\((?<!\w\()\d|\d(?<!\w\d))[\d \t().\-/]{4,28}\d")
MIN_DIGITS = 6
_CONTEXT_BEFORE = 2
_CONTEXT_AFTER = 8

# The EU's 27, the rest of the EEA, Switzerland, the United Kingdom, and North America (one plan for
# the United States and Canada): the regions whose national formats count next to a phone word.
CUED_REGIONS = (
    *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
    *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
    *("IS", "LI", "NO", "CH", "GB", "US"),
)
# Words for a phone in the 24 languages, lower case, at the start of a word; a stem ("telef") covers
# the forms that follow it, a word that must end there says so ("tel(?!\w)", not "tell").
_CUE_WORDS = (
    *(r"phon", r"teleph", r"mobil", r"cell", r"call(?!\w)", r"fax", r"landline", r"desk(?!\w)"),
    *(r"tel(?!\w)", r"telef", r"tél", r"tlf", r"tfno", r"puh"),
    *(r"portable", r"appel", r"handy", r"móvil", r"telemóvel", r"celular"),
    *(r"gsm(?!\w)", r"sms(?!\w)", r"whatsapp", r"bel(?:len|l?t)(?!\w)", r"ring(?!\w)", r"rufnummer"),
    *(r"festnetz", r"anruf", r"llam", r"chiam", r"komórk", r"kom\.", r"tālr", r"mob\."),
    *(r"mobitel", r"mowbajl", r"guthán", r"fón(?!\w)", r"office(?!\w)", r"bureau(?!\w)", r"büro(?!\w)"),
    *(r"телефон", r"тел(?!\w)", r"мобилен", r"τηλ", r"κινητ"),
)
_CUE = re.compile(rf"(?<!\w)(?:{by_first_character(_CUE_WORDS)})")
CUE_BEFORE = 40  # characters before a number where its word may be: "Personal info:\nPhone:\n"
CUE_AFTER = 12  # and after it: "416 60 039 office"
_LONGEST_CUE = 16  # "rufnummer", "телефон", and the one character "(?!\w)" looks at


class PhoneRecognizer:
    name = "phones"
    types = frozenset({EntityType.PHONE})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        candidates = [match for match in CANDIDATE.finditer(text) if _digits(match.group()) >= MIN_DIGITS]
        if not candidates:
            return
        own = LANGUAGE_REGIONS.get(text_language(text, language), ()) or (_UNKNOWN_REGION,)
        others = tuple(region for region in CUED_REGIONS if region not in own)
        seen: set[tuple[int, int]] = set()
        for candidate in candidates:
            written = candidate.group()
            if written.startswith("+"):
                regions: tuple[str, ...] = own[:1]  # an international number reads the same from anywhere
            else:
                runs = digit_runs(written, MIN_DIGITS)
                regions = tuple(region for region in own if may_be(runs, region))
                if _cue_near(text, candidate.start(), candidate.end()):
                    cued = (region for region in others if may_be(runs, region))
                    regions += tuple(likeliest_first(cued, written))
            for start, end, subtype in _numbers(text, candidate, regions):
                if (start, end) not in seen:  # the context of one candidate may hold the next
                    seen.add((start, end))
                    yield Entity(EntityType.PHONE, start, end, SCORE, self.name, subtype)


def _numbers(
    text: str, candidate: re.Match[str], regions: tuple[str, ...]
) -> list[tuple[int, int, str | None]]:
    """The numbers libphonenumber finds in `candidate` read as a number of one of `regions`, the first
    region that takes all its digits winning, else the one that takes most: "(201) 555-0123" is one
    North American number, not the Irish "555-0123" inside it."""
    # The matcher looks around a number (a letter glued to it, a clock time after a date): it is given
    # a few characters of context on each side.
    offset = max(0, candidate.start() - _CONTEXT_BEFORE)
    snippet = text[offset : candidate.end() + _CONTEXT_AFTER]
    best: list[tuple[int, int, str | None]] = []
    best_digits = 0
    for region in regions:
        # VALID: the number parses and is a valid number for its region.
        found = [
            (offset + match.start, offset + match.end, phonenumbers.region_code_for_number(match.number))
            for match in phonenumbers.PhoneNumberMatcher(
                snippet, region, leniency=phonenumbers.Leniency.VALID
            )
            if long_enough(match)  # not a short number found inside a longer run
        ]
        digits = sum(_digits(text[start:end]) for start, end, _ in found)
        if digits > best_digits:
            best, best_digits = found, digits
        if best and best[0][0] <= candidate.start() and best[-1][1] >= candidate.end():
            break  # all of it: the next regions would find the same digits again
    return best


def long_enough(match: phonenumbers.PhoneNumberMatch) -> bool:
    """At least MIN_DIGITS digits, an extension ("ext. 12") not counted."""
    return _digits(match.raw_string) - len(match.number.extension or "") >= MIN_DIGITS


def _digits(candidate: str) -> int:
    return sum(character.isdigit() for character in candidate)


def _cue_near(text: str, start: int, end: int) -> bool:
    """Whether a word for a phone starts within CUE_BEFORE characters before the number or CUE_AFTER
    after it. The slice around that window is wider by the longest word and one character, so that a
    word cut by its edges ("du|ring", "tel|ling") is read as the word it is."""
    first = max(0, start - CUE_BEFORE)
    offset = max(0, first - 1)
    lowered = lower_keeping_offsets(text[offset : end + CUE_AFTER + _LONGEST_CUE])
    found = _CUE.search(lowered, first - offset)  # the look behind still sees the character before
    return found is not None and found.start() + offset <= end + CUE_AFTER
