"""The identifiers python-stdnum has no module for, on published examples where there are some."""

from __future__ import annotations

from souverain.privacy import checksums


def test_luxembourg_national_id() -> None:
    # OECD, "Luxembourg - Information on Tax Identification Numbers": 1893120105732
    assert checksums.lu_national_id("1893120105732")
    assert not checksums.lu_national_id("1893120105723")  # check digits swapped
    assert not checksums.lu_national_id("1893130105732")  # 13th month
    assert not checksums.lu_national_id("189312010573")


def test_hungarian_tax_id() -> None:
    # vkovacs/Tax-number-generator (main.py), after hu.wikipedia.org/wiki/Adóazonosító_jel
    assert checksums.hu_tax_id("8422780135")
    assert not checksums.hu_tax_id("8422780136")
    assert not checksums.hu_tax_id("7422780135")  # individuals' numbers start with 8


def test_hungarian_social_security_number() -> None:
    # rrd108/hungarian-validators README: 111 111 110
    assert checksums.hu_taj("111111110")
    assert not checksums.hu_taj("111111111")


def test_hungarian_personal_id() -> None:
    # No published example: built by the decree's rule, one per weighting (born before and after 1997).
    assert checksums.hu_personal_id("17706302226")
    assert checksums.hu_personal_id("50101011231")
    assert not checksums.hu_personal_id("17706302227")
    assert not checksums.hu_personal_id("17713302226")  # 13th month
    assert not checksums.hu_personal_id("97706302226")  # no such sex and century digit


def test_malta_and_cyprus_identity_cards_by_shape() -> None:
    assert checksums.mt_identity_card("1234567M")
    assert checksums.mt_identity_card("789L")
    assert not checksums.mt_identity_card("1234567Q")
    assert not checksums.mt_identity_card("12345678M")
    assert checksums.cy_identity_card("1234567")
    assert not checksums.cy_identity_card("12345")
