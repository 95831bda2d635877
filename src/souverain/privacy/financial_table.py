"""IBAN, EU VAT numbers and payment cards: formats for the matcher, validated by python-stdnum."""

from __future__ import annotations

import re

from stdnum import iban, luhn
from stdnum.eu import vat as eu_vat

from souverain.privacy.entities import EntityType
from souverain.privacy.formats import IdentifierFormat, Strength

# The VAT prefixes of the member states (Greece writes EL) and Northern Ireland (XI).
_VAT_PREFIXES = "AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|HR|HU|IE|IT|LT|LU|LV|MT|NL|PL|PT|RO|SE|SI|SK|XI"

# Issuer identification numbers of the card schemes, with their lengths: Visa, Mastercard (51-55 and
# 2221-2720), American Express, Discover, JCB, Diners Club, Maestro, UnionPay. A Luhn-valid number
# outside these ranges is more often an account or a reference than a card.
_CARD = re.compile(
    r"4(?:\d{12}|\d{15}|\d{18})"
    r"|(?:5[1-5]\d\d|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720)\d{12}"
    r"|3[47]\d{13}"
    r"|(?:6011|65\d\d|64[4-9]\d)\d{12,15}"
    r"|35(?:2[89]|[3-8]\d)\d{12,15}"
    r"|3(?:0[0-5]|[689]\d)\d{11,16}"
    r"|(?:50|5[6-9]|6[0-9])\d{10,17}"
)

FINANCIAL_FORMATS: tuple[IdentifierFormat, ...] = (
    IdentifierFormat(
        "iban",
        EntityType.IBAN,
        iban.is_valid,
        tuple(range(15, 35)),
        re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}"),
        Strength.STRONG,
    ),
    IdentifierFormat(
        "eu.vat",
        EntityType.VAT,
        eu_vat.is_valid,
        tuple(range(4, 15)),
        re.compile(rf"(?:{_VAT_PREFIXES})[0-9A-Z]{{2,12}}"),
        Strength.STRONG,
    ),
    IdentifierFormat("luhn", EntityType.CARD, luhn.is_valid, tuple(range(13, 20)), _CARD, Strength.STRONG),
)
