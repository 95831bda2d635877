"""Validators for the identifiers python-stdnum has no module for, from their published definitions.

Each takes the compacted number (no spaces or separators, upper case) and says whether it is well formed.
Check digits that are a standard algorithm (Luhn, Verhoeff) come from python-stdnum, not written here.
"""

from __future__ import annotations

import re
from datetime import date

from stdnum import luhn, verhoeff

_DIGITS = re.compile(r"\d+")


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def lu_national_id(number: str) -> bool:
    """Luxembourg's matricule national: birth date YYYYMMDD, a 3-digit serial, then a Luhn and a
    Verhoeff check digit, both computed over the first 11 digits (CTIE; OECD's Luxembourg TIN sheet)."""
    if len(number) != 13 or not _DIGITS.fullmatch(number):
        return False
    if not _is_date(int(number[:4]), int(number[4:6]), int(number[6:8])):
        return False
    head = number[:11]
    return number[11] == luhn.calc_check_digit(head) and number[12] == verhoeff.calc_check_digit(head)


def hu_tax_id(number: str) -> bool:
    """Hungary's adóazonosító jel: 8, the days from 1867-01-01 to the birth date (5 digits), a 3-digit
    serial, and the sum of the first nine digits weighted 1..9, modulo 11 (never 10) (Act XX of 1996)."""
    if len(number) != 10 or number[0] != "8" or not _DIGITS.fullmatch(number):
        return False
    check = sum(int(digit) * weight for weight, digit in enumerate(number[:9], start=1)) % 11
    return check == int(number[9])  # a remainder of 10 matches no digit


# First digit of the személyi azonosító: sex and century of birth (foreigners: 7 and 8, 1900s).
_HU_CENTURY = {"1": 1900, "2": 1900, "3": 1800, "4": 1800, "5": 2000, "6": 2000, "7": 1900, "8": 1900}


def hu_personal_id(number: str) -> bool:
    """Hungary's személyi azonosító: sex and century, YYMMDD, a 3-digit serial and a check digit: the
    first ten digits weighted 1..10 for people born before 1997, 10..1 from 1997 on, modulo 11 (never
    10) (Government decree 146/1993)."""
    if len(number) != 11 or not _DIGITS.fullmatch(number) or number[0] not in _HU_CENTURY:
        return False
    born = (_HU_CENTURY[number[0]] + int(number[1:3]), int(number[3:5]), int(number[5:7]))
    if not _is_date(*born):
        return False
    weights = range(1, 11) if born < (1997, 1, 1) else range(10, 0, -1)
    check = sum(int(digit) * weight for digit, weight in zip(number[:10], weights, strict=True)) % 11
    return check == int(number[10])  # a remainder of 10 matches no digit


def hu_taj(number: str) -> bool:
    """Hungary's TAJ (social security) number: eight digits weighted alternately 3 and 7, modulo 10,
    then the check digit."""
    if len(number) != 9 or not _DIGITS.fullmatch(number):
        return False
    weighted = sum(int(digit) * (3 if index % 2 == 0 else 7) for index, digit in enumerate(number[:8]))
    return weighted % 10 == int(number[8])


_MT_IDENTITY_CARD = re.compile(r"\d{1,7}[MGAPLHBZ]")


def mt_identity_card(number: str) -> bool:
    """Malta's identity card: up to seven digits and a letter that says how the holder is registered.
    No check digit is published, so only the shape is checked and a context word is required."""
    return _MT_IDENTITY_CARD.fullmatch(number) is not None


_CY_IDENTITY_CARD = re.compile(r"\d{6,10}")


def cy_identity_card(number: str) -> bool:
    """Cyprus's identity card: a serial number of up to ten digits with no published check digit, so
    only the shape is checked and a context word is required."""
    return _CY_IDENTITY_CARD.fullmatch(number) is not None
