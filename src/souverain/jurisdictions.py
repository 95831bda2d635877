"""Jurisdictions: ISO 3166-1 alpha-2 country codes and the groups `EU` and `EEA`.

A residency set such as ``[EU]`` or ``[LU, BE]`` expands to the countries where data may be processed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

import pycountry

EU_MEMBER_STATES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()  # noqa: SIM905
)
EEA_MEMBER_STATES = EU_MEMBER_STATES | {"IS", "LI", "NO"}
GROUPS: dict[str, frozenset[str]] = {"EU": EU_MEMBER_STATES, "EEA": EEA_MEMBER_STATES}

# Codes people write that ISO spells otherwise; we refuse them with a hint rather than guess.
_HINTS = {"EL": "GR (Greece's ISO 3166-1 code; EL is the EU's own)", "UK": "GB"}


@cache
def _countries() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def problem_with_code(code: str, *, groups_allowed: bool) -> str | None:
    """Return why ``code`` is not a valid jurisdiction, or None when it is."""
    if groups_allowed and code in GROUPS:
        return None
    if code in _countries():
        return None
    if code in GROUPS:
        return f"{code!r} is a group of countries; data is processed in one country: give its ISO code"
    hint = _HINTS.get(code.upper())
    if hint:
        return f"unknown jurisdiction code {code!r}: use {hint}"
    return f"unknown jurisdiction code {code!r}: expected an ISO 3166-1 alpha-2 code such as LU, or EU, EEA"


def expand(codes: Iterable[str]) -> frozenset[str]:
    """The countries a residency set admits."""
    countries: set[str] = set()
    for code in codes:
        countries |= GROUPS.get(code, {code})
    return frozenset(countries)
