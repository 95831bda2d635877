"""The helpers that lay out patterns and text for fast matching keep what they match unchanged."""

from __future__ import annotations

import re

import pytest

from souverain.privacy.patterns import by_first_character, lower_keeping_offsets

CUES = (r"née?", r"né\(e\)", r"nat[oa]", r"d\.?o\.?b\.?", r"date\s+of\s+birth", r"born")
TEXT = "Née le 3 mai, nata a Roma, D.O.B. 1970, date of  birth unknown, born 1980, né(e) à Metz, dob"


def test_grouping_by_first_character_finds_what_the_plain_alternation_finds() -> None:
    plain = re.compile(rf"(?<!\w)(?:{'|'.join(CUES)})(?!\w)")
    grouped = re.compile(rf"(?<!\w)(?:{by_first_character(CUES)})(?!\w)")
    lowered = TEXT.lower()
    found = [match.span() for match in grouped.finditer(lowered)]
    assert found == [match.span() for match in plain.finditer(lowered)]
    assert len(found) == 7


@pytest.mark.parametrize("pattern", [r"(?:tel)", r"a?b", r"x|y", r"\d+"])
def test_a_pattern_that_does_not_start_with_a_plain_character_is_refused(pattern: str) -> None:
    # Grouped by its first character, "a?b" would require the "a", and "x|y" would put "y" under "x".
    with pytest.raises(ValueError, match="does not start with a plain character"):
        by_first_character([pattern])


def test_lowering_keeps_every_offset() -> None:
    # "İ".lower() is two characters: lowering the whole text would move every offset after it.
    text = "İSTANBUL Tel. 0212 555 12 12"
    lowered = lower_keeping_offsets(text)
    assert len(lowered) == len(text)
    assert lowered[lowered.index("tel") :].startswith("tel. 0212")
    assert text[lowered.index("tel") :].startswith("Tel.")
