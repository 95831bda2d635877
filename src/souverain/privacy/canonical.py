"""One form per value of personal data, however it is written: what makes "LU28 0019 4006 4475 0000" and
"lu280019400644750000" one IBAN, "+352 621 123 456" and "00352621123456" one phone, "MÜLLER  Jean" and
"muller jean" one name. Pseudonyms give such writings one placeholder, data subjects one keyed hash."""

from __future__ import annotations

import ipaddress
import re
import unicodedata

import phonenumbers

from souverain.privacy.entities import EntityType
from souverain.privacy.folding import fold

_NUMBERS = frozenset(
    {
        EntityType.NATIONAL_ID,
        EntityType.TAX_ID,
        EntityType.SOCIAL_SECURITY,
        EntityType.IBAN,
        EntityType.VAT,
        EntityType.CARD,
    }
)
_SEPARATORS = re.compile(r"[^0-9A-Za-z+]")
_SPACES = re.compile(r"\s+")


def canonical_number(value: str) -> str:
    """Identifiers as written with spaces, dots, dashes or slashes, in either case: one form."""
    plus = value.strip().startswith("+")
    digits = _SEPARATORS.sub("", fold(value).text).replace("+", "").upper()
    return ("+" if plus else "") + digits


def canonical_email(value: str) -> str:
    return fold(value).text.strip().lower()


def canonical_name(value: str) -> str:
    """Lower case, no accents, one space between words: "MÜLLER  Jean" is "muller jean"."""
    decomposed = unicodedata.normalize("NFKD", fold(value).text.casefold())
    plain = "".join(character for character in decomposed if not unicodedata.combining(character))
    return _SPACES.sub(" ", plain).strip()


def canonical_phone(value: str, region: str | None = None) -> str:
    """E.164 where the number can be parsed (with its country code, or in `region`), else its digits."""
    text = fold(value).text.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region if region and len(region) == 2 else None)
    except phonenumbers.NumberParseException:
        return canonical_number(text)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def canonical_ip(value: str) -> str:
    try:
        return ipaddress.ip_address(value.strip()).compressed
    except ValueError:
        return value.strip().lower()


def canonical(entity_type: EntityType, value: str, subtype: str | None = None) -> str:
    if entity_type is EntityType.EMAIL:
        return canonical_email(value)
    if entity_type is EntityType.PHONE:
        return canonical_phone(value, (subtype or "").upper() or None)
    if entity_type is EntityType.PERSON:
        return canonical_name(value)
    if entity_type is EntityType.IP:
        return canonical_ip(value)
    if entity_type in _NUMBERS:
        return canonical_number(value)
    return canonical_name(value)
