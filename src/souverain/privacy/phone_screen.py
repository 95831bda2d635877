"""A test of a few microseconds before libphonenumber's matcher, which costs some fifty a region:
whether any number the matcher could take from a candidate may be one of a region's. It is sound:
every number the matcher takes from a candidate passes (tests/unit/privacy/test_phone_screen.py
compares the two on every region's numbers written many ways), so skipping a region it refuses
loses nothing.

The matcher parses the whole candidate, or where that is no number, parts of it cut at separators; a
part's digits may start with an international prefix, the region's country code (written without
"+"), or its trunk prefix. The screen tries every run of consecutive groups of digits, with and
without those prefixes, against the patterns of every kind of number of the region and of the regions
sharing its country code (the United Kingdom's +44 is also Jersey's; Finland's +358 also Åland's)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

import phonenumbers

_DIGIT_GROUPS = re.compile(r"\d+")
_NOT_DIGITS = re.compile(r"\D+")
_NUMBER_KINDS = (
    *("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number"),
    *("voip", "pager", "uan", "voicemail"),
)


def digit_runs(written: str, fewest: int) -> set[str]:
    """The digits (ASCII) of every run of consecutive groups of digits in `written` with at least
    `fewest` digits: the matcher takes the whole, the parts its `_INNER_MATCHES` split off at separators,
    or, cutting a long candidate its own way, a run of groups. `written` is a candidate of a few dozen
    characters: a bounded number of runs."""
    groups = [_ascii(group) for group in _DIGIT_GROUPS.findall(written)]
    return {
        "".join(groups[first:last])
        for first in range(len(groups))
        for last in range(first + 1, len(groups) + 1)
        if sum(len(group) for group in groups[first:last]) >= fewest
    }


def may_be(runs: set[str], region: str) -> bool:
    """Whether one of `runs` may be a number of `region`: False only where libphonenumber's matcher,
    reading the candidate as a number of `region`, would find none."""
    screen = _screen(region)
    return screen is None or any(screen.admits(run) for run in runs)


def likeliest_first(regions: Iterable[str], written: str) -> list[str]:
    """`regions` in the order a reader would guess: those whose numbers `written` may be as a whole
    first, by the fewest possible lengths ("(416) 234-5678" is more likely North American, always ten
    digits, than Luxembourgish, four to eleven); ahead of them all, the first that groups the digits the
    way they are written ("0470 12 34 56" is Belgian, "04 70 12 34 56" French). Grouping costs a parse
    (some 25 microseconds), so it is asked in that order and only until one answers yes."""
    digits = _ascii(_NOT_DIGITS.sub("", written))

    def rank(region: str) -> tuple[bool, int]:
        screen = _screen(region)
        return (True, 99) if screen is None else (not screen.admits(digits), screen.lengths)

    ranks = {region: rank(region) for region in regions}
    ranked = sorted(ranks, key=ranks.__getitem__)
    groups = [len(group) for group in _DIGIT_GROUPS.findall(written)]
    for index, region in enumerate(ranked):
        if ranks[region][0]:  # the rest cannot take it whole
            break
        if _grouped_as(written, groups, region):
            return [region, *ranked[:index], *ranked[index + 1 :]]
    return ranked


def _grouped_as(written: str, groups: list[int], region: str) -> bool:
    """Whether `region`'s national format of the number groups its digits as `written` does."""
    try:
        number = phonenumbers.parse(written, region)
    except phonenumbers.NumberParseException:
        return False
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return [len(group) for group in _DIGIT_GROUPS.findall(formatted)] == groups


@dataclass(frozen=True)
class _Screen:
    numbers: re.Pattern[str]  # every kind of number of every region with the country code
    country_code: str
    trunk_prefix: re.Pattern[str] | None
    international_prefix: re.Pattern[str] | None
    lengths: int  # how many lengths the region's numbers may have

    def admits(self, digits: str) -> bool:
        if self.international_prefix is not None and self.international_prefix.match(digits):
            return True  # a number of any country may follow
        forms = [digits]
        if digits.startswith(self.country_code):
            forms.append(digits[len(self.country_code) :])
        for form in forms:
            if self.numbers.fullmatch(form) is not None:
                return True
            prefix = self.trunk_prefix.match(form) if self.trunk_prefix is not None else None
            if prefix is not None and self.numbers.fullmatch(form, prefix.end()) is not None:
                return True
        return False


@cache
def _screen(region: str) -> _Screen | None:
    """None where the screen cannot tell (no metadata, a trunk prefix rewritten rather than removed):
    the region is then always handed to the matcher."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None or metadata.national_prefix_transform_rule:
        return None
    # Parsed with `region`'s prefixes, a number is valid if it is one of any region of its country code.
    patterns: list[str] = []
    for sibling in phonenumbers.region_codes_for_country_code(metadata.country_code):
        sibling_metadata = phonenumbers.PhoneMetadata.metadata_for_region(sibling)
        if sibling_metadata is None:
            return None
        for kind in _NUMBER_KINDS:
            description = getattr(sibling_metadata, kind, None)
            if description is not None and description.national_number_pattern:
                patterns.append(description.national_number_pattern)
    if not patterns:
        return None
    trunk, international = metadata.national_prefix_for_parsing, metadata.international_prefix
    return _Screen(
        re.compile("|".join(f"(?:{pattern})" for pattern in patterns)),
        str(metadata.country_code),
        re.compile(trunk) if trunk else None,
        re.compile(international) if international else None,
        len(metadata.general_desc.possible_length) if metadata.general_desc else 99,
    )


def _ascii(digits: str) -> str:
    """Arabic-Indic, Devanagari or any other decimal digits as ASCII ones, as libphonenumber reads them."""
    return digits if digits.isascii() else "".join(str(unicodedata.digit(digit)) for digit in digits)
