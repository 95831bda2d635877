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
from functools import cache

import phonenumbers

from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.patterns import by_first_character, lower_keeping_offsets
from souverain.privacy.recognizers.languages import LANGUAGE_REGIONS, text_language

SCORE = 0.8  # libphonenumber checks a number's length and prefixes per region, not that it is in use
# Without a hint, numbers in international form only: "ZZ" is libphonenumber's unknown region.
_UNKNOWN_REGION = "ZZ"
# libphonenumber's own candidate pattern is costly on ordinary prose (every year or amount is tried):
# only runs of digits and separators holding at least MIN_DIGITS digits are handed to it. No EU number
# is shorter; the bounded run keeps the scan linear.
# A plus sign, or an opening bracket or digit with no letter or digit glued before it; each alternative
# starts with its character, so that the search skips to those in C.
_CANDIDATE = re.compile(r"(?:\+\(?\d|\((?<!\w\()\d|\d(?<!\w\d))[\d \t().\-/]{4,28}\d")
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
    *(r"phone", r"telephone", r"mobile", r"cell", r"call(?!\w)", r"fax", r"landline", r"desk(?!\w)"),
    *(r"tel(?!\w)", r"tel\.", r"telef", r"teleph", r"tél", r"tlf", r"tfno", r"puh", r"phon"),
    *(r"portable", r"appel", r"handy", r"mobil", r"móvil", r"cellulare", r"telemóvel", r"celular"),
    *(r"gsm(?!\w)", r"sms(?!\w)", r"whatsapp", r"bel(?:len|l?t)(?!\w)", r"ring(?!\w)", r"rufnummer"),
    *(r"festnetz", r"anruf", r"llam", r"chiam", r"komórk", r"kom\.", r"puhelin", r"tālr", r"mob\."),
    *(r"mobitel", r"mowbajl", r"guthán", r"fón(?!\w)", r"office(?!\w)", r"bureau(?!\w)", r"büro(?!\w)"),
    *(r"телефон", r"тел", r"мобилен", r"τηλ", r"κινητ"),
)
_CUE = re.compile(rf"(?<!\w)(?:{by_first_character(_CUE_WORDS)})")
CUE_BEFORE = 40  # characters before a number where its word may be: "Personal info:\nPhone:\n"
CUE_AFTER = 12  # and after it: "416 60 039 office"


class PhoneRecognizer:
    name = "phones"
    types = frozenset({EntityType.PHONE})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        candidates = [match for match in _CANDIDATE.finditer(text) if _digits(match.group()) >= MIN_DIGITS]
        if not candidates:
            return
        own = LANGUAGE_REGIONS.get(text_language(text, language), ()) or (_UNKNOWN_REGION,)
        others = tuple(region for region in CUED_REGIONS if region not in own)
        seen: set[tuple[int, int]] = set()
        for candidate in candidates:
            written = candidate.group()
            if written.startswith("+"):
                regions: tuple[str, ...] = own[:1]  # an international number reads the same from anywhere
            elif written.startswith("00"):
                regions = own  # after the international prefix: any length
            else:
                near = _cue_near(text, candidate.start(), candidate.end())
                runs = _digit_runs(written)
                regions = tuple(
                    region for region in (*own, *(others if near else ())) if _may_be(runs, region)
                )
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
            if _digits(match.raw_string) >= MIN_DIGITS  # a short number found inside a longer run
        ]
        digits = sum(_digits(text[start:end]) for start, end, _ in found)
        if digits > best_digits:
            best, best_digits = found, digits
        if best and best[0][0] <= candidate.start() and best[-1][1] >= candidate.end():
            break  # all of it: the next regions would find the same digits again
    return best


def _digits(candidate: str) -> int:
    return sum(character.isdigit() for character in candidate)


def _cue_near(text: str, start: int, end: int) -> bool:
    window_start = max(0, start - CUE_BEFORE)
    window = lower_keeping_offsets(text[window_start : end + CUE_AFTER])
    # A word starting inside the window; the look behind needs the character before it.
    return _CUE.search(window) is not None


def _digit_runs(written: str) -> set[str]:
    """The digits of every number libphonenumber's matcher could find in `written`: the whole, and where
    that is none, the parts it then tries (its `_INNER_MATCHES`): what lies before the first and after
    each slash, bracket, spaced hyphen or full stop, and each part between spaces. Those shorter than
    MIN_DIGITS are not reported, so not looked for."""
    runs = {_DIGITS.sub("", written)}
    for separator in _INNER_SEPARATORS:
        for index, inner in enumerate(separator.finditer(written)):
            if index == 0:
                runs.add(_DIGITS.sub("", written[: inner.start()]))
            runs.add(_DIGITS.sub("", inner.group(1)))
    return {run for run in runs if len(run) >= MIN_DIGITS}


_DIGITS = re.compile(r"\D+")
_INNER_SEPARATORS = tuple(
    re.compile(pattern)
    for pattern in (r"/+(.*)", r"(\([^(]*)", r"(?:\s-|-\s)\s*(.+)", r"\.+\s*([^.]+)", r"\s+(\S+)")
)


def _may_be(runs: set[str], region: str) -> bool:
    """Whether one of these runs of digits, without the region's trunk prefix where it has one, fits
    the pattern of all the region's numbers (libphonenumber's metadata): a test of a microsecond before
    libphonenumber's own, which costs some fifty a region. Every number it deems valid passes."""
    screen = _national_screen(region)
    if screen is None:
        return True
    numbers, trunk_prefix = screen
    for digits in runs:
        if numbers.fullmatch(digits) is not None:
            return True
        prefix = trunk_prefix.match(digits) if trunk_prefix is not None else None
        if prefix is not None and numbers.fullmatch(digits, prefix.end()) is not None:
            return True
    return False


@cache
def _national_screen(region: str) -> tuple[re.Pattern[str], re.Pattern[str] | None] | None:
    """The pattern of `region`'s valid national numbers (those of each type libphonenumber knows: fixed
    line, mobile, toll-free, …) and of its trunk prefix ("0", "0|180020"); None where a prefix is
    rewritten rather than removed, or the region has no metadata: then always tried."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.national_prefix_transform_rule:
        return None
    kinds = (getattr(metadata, kind, None) for kind in _NUMBER_KINDS)
    patterns = [kind.national_number_pattern for kind in kinds if kind and kind.national_number_pattern]
    if not patterns:
        return None
    prefix = metadata.national_prefix_for_parsing
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns)), re.compile(
        prefix
    ) if prefix else None


_NUMBER_KINDS = (
    *("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number"),
    *("voip", "pager", "uan", "voicemail"),
)
