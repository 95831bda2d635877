"""The screen before libphonenumber never refuses a region in which libphonenumber's matcher would find
a number: skipping the regions it refuses loses nothing."""

from __future__ import annotations

from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from souverain.privacy.phone_screen import digit_runs, likeliest_first, may_be
from souverain.privacy.recognizers.phones import CANDIDATE, CUED_REGIONS, MIN_DIGITS, long_enough

KINDS = (
    *(PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE),
    *(PhoneNumberType.PREMIUM_RATE, PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP),
    *(PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL),
)


def writings(number: phonenumbers.PhoneNumber) -> Iterator[str]:
    """The ways people write a number: national, international without its plus, after an exit code,
    run together, split oddly, with an extension, beside another number."""
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)[1:]
    digits = "".join(character for character in national if character.isdigit())
    yield national
    yield international
    yield "00 " + international
    yield "011 " + international
    yield digits
    yield f"{digits[:3]}-{digits[3:6]}.{digits[6:]}"
    yield national + " ext. 12"
    yield "12 / " + national
    yield national + " / 12"


def numbers() -> Iterator[phonenumbers.PhoneNumber]:
    for region in CUED_REGIONS:
        for kind in KINDS:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                yield example


@pytest.mark.parametrize("number", list(numbers()), ids=phonenumbers.region_code_for_number)
def test_no_region_the_matcher_would_read_is_refused(number: phonenumbers.PhoneNumber) -> None:
    refused = []
    for written in writings(number):
        text = f"Tel: {written} ok"
        for candidate in CANDIDATE.finditer(text):
            runs = digit_runs(candidate.group(), MIN_DIGITS)
            snippet = text[max(0, candidate.start() - 2) : candidate.end() + 8]
            for region in CUED_REGIONS:
                found = [
                    match
                    for match in phonenumbers.PhoneNumberMatcher(snippet, region, phonenumbers.Leniency.VALID)
                    if long_enough(match)
                ]
                if found and not may_be(runs, region):
                    refused.append((written, region))
    assert refused == []


def test_the_screen_refuses_what_no_region_could_be() -> None:
    # A card number run together is too long for any national number: no region is asked.
    runs = digit_runs("4111111111111111", MIN_DIGITS)
    assert [region for region in CUED_REGIONS if may_be(runs, region)] == []


def test_regions_that_take_the_number_whole_and_group_it_so_come_first() -> None:
    assert likeliest_first(["FR", "LU", "BE"], "0470 12 34 56")[0] == "BE"
    assert likeliest_first(["BE", "LU", "FR"], "04 70 12 34 56")[0] == "FR"
    assert likeliest_first(["LU", "US"], "(416) 234-5678") == ["US", "LU"]
