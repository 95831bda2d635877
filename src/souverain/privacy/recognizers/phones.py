"""Phone numbers, through Google's libphonenumber (the `phonenumbers` package): every number it finds and
deems valid for its region, in the national formats of the regions the text's language points to and
in international form (+NN, 00NN) everywhere. Subtype: the number's region, e.g. "FR"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.recognizers.languages import LANGUAGE_REGIONS, text_language

SCORE = 0.8  # libphonenumber checks a number's length and prefixes per region, not that it is in use
# Without a hint, numbers in international form only: "ZZ" is libphonenumber's unknown region.
_UNKNOWN_REGION = "ZZ"
# libphonenumber's own candidate pattern is costly on ordinary prose (every year or amount is tried):
# only runs of digits and separators holding at least MIN_DIGITS digits are handed to it. No EU number
# is shorter; the bounded run keeps the scan linear.
_CANDIDATE = re.compile(r"(?:\+|(?<!\w))\(?\d[\d \t().\-/]{4,28}\d")
MIN_DIGITS = 6
_CONTEXT_BEFORE = 2
_CONTEXT_AFTER = 8


class PhoneRecognizer:
    name = "phones"
    types = frozenset({EntityType.PHONE})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        candidates = [match for match in _CANDIDATE.finditer(text) if _digits(match.group()) >= MIN_DIGITS]
        if not candidates:
            return
        regions = LANGUAGE_REGIONS.get(text_language(text, language), ()) or (_UNKNOWN_REGION,)
        seen: set[tuple[int, int]] = set()
        for candidate in candidates:
            # The matcher looks around a number (a letter glued to it, a clock time after a date): it is
            # given a few characters of context on each side.
            offset = max(0, candidate.start() - _CONTEXT_BEFORE)
            snippet = text[offset : candidate.end() + _CONTEXT_AFTER]
            for region in regions:
                # VALID: the number parses and is a valid number for its region.
                for match in phonenumbers.PhoneNumberMatcher(
                    snippet, region, leniency=phonenumbers.Leniency.VALID
                ):
                    span = (offset + match.start, offset + match.end)
                    if span in seen:
                        continue
                    seen.add(span)
                    subtype = phonenumbers.region_code_for_number(match.number)
                    yield Entity(EntityType.PHONE, span[0], span[1], SCORE, self.name, subtype)


def _digits(candidate: str) -> int:
    return sum(character.isdigit() for character in candidate)
