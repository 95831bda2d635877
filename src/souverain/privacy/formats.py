"""What an identifier format is, for the tables that list them and the matcher that finds them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from souverain.privacy.entities import EntityType


class Strength(IntEnum):
    """How likely a well-formed number is really this identifier, without a context word nearby."""

    CONTEXT_ONLY = 0  # no check digit: reported only next to a context word
    WEAK = 1  # a short check (mod 10, mod 11): ~1 random number in 10 passes
    MEDIUM = 2  # a check and a date, or a distinctive written form
    STRONG = 3  # letters and digits in a fixed structure with a check, or 11+ digits, a date and a check


# Score per strength without and with a context word. WEAK stays under the default min_score (0.5).
SCORES: dict[Strength, tuple[float, float]] = {
    Strength.CONTEXT_ONLY: (0.0, 0.8),
    Strength.WEAK: (0.4, 0.9),
    Strength.MEDIUM: (0.6, 0.95),
    Strength.STRONG: (0.85, 0.95),
}


@dataclass(frozen=True, slots=True)
class IdentifierFormat:
    subtype: str  # the python-stdnum module ("fr.nir"), or our own name for ours ("lu.national_id")
    type: EntityType
    validate: Callable[[str], bool]
    lengths: tuple[int, ...]  # of the compacted number, to index candidates by length
    shape: re.Pattern[str]  # the compacted number (upper case, no separators), before the checksum
    strength: Strength
    # The way people write it (on the text as found), which makes a weak format more certain.
    written: re.Pattern[str] | None = None
    # Formats whose dash (or plus) means something (a century sign) are validated with it kept.
    keeps_dash: bool = False


def digits(*lengths: int) -> re.Pattern[str]:
    """The shape of an all-digit number of one of `lengths`."""
    return re.compile("|".join(rf"\d{{{length}}}" for length in lengths))
