"""Data subjects as keyed hashes: what links a person to the documents, answers and reviews that mention
them, without the store ever holding their identifiers in a form that can be read or guessed.

A subject is HMAC-SHA256, under a key of its own derived from the site's audit key, of a canonical form
of the value: the same e-mail address, IBAN or phone number written another way is the same subject.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import phonenumbers

from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import EntityType
from souverain.privacy.folding import fold

# A key of its own: a subject hash must not be comparable with the audit log's content hashes.
_PURPOSE = b"souverain data subjects v1"
# A date of birth, alone, is shared by thousands: recorded as a subject, erasing one person by it would
# erase everyone born that day. It is found (and protected) in texts, but never names a subject.
NOT_SUBJECTS = frozenset({EntityType.DATE_OF_BIRTH})
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


@dataclass(frozen=True, slots=True)
class Mention:
    subject: str  # the keyed hash
    type: EntityType
    start: int  # where in the text it was found, for redaction
    end: int


class SubjectHasher:
    def __init__(self, site_key: bytes) -> None:
        self._key = hmac.new(site_key, _PURPOSE, hashlib.sha256).digest()

    def __call__(self, canonical_value: str) -> str:
        return hmac.new(self._key, canonical_value.encode(), hashlib.sha256).hexdigest()


class Subjects:
    """Finds the data subjects a text mentions, and the subjects a value typed by a person may be."""

    def __init__(self, analyzer: Analyzer, hasher: SubjectHasher) -> None:
        self.analyzer = analyzer
        self.hasher = hasher

    def mentions(self, text: str, language: str | None = None) -> list[Mention]:
        """Every mention of a subject in `text`, in order, with its span."""
        found = []
        for entity in self.analyzer.analyze(text, language):
            if entity.type in NOT_SUBJECTS:
                continue
            value = canonical(entity.type, text[entity.start : entity.end], entity.subtype)
            if value:
                found.append(Mention(self.hasher(value), entity.type, entity.start, entity.end))
        return found

    def in_texts(self, texts: Iterable[str], language: str | None = None) -> set[tuple[str, EntityType]]:
        """The distinct (subject, type) pairs mentioned anywhere in `texts`."""
        return {
            (mention.subject, mention.type) for text in texts for mention in self.mentions(text, language)
        }

    def of_value(self, value: str) -> frozenset[str]:
        """The subjects a value typed by a person may be: as its detected type(s) would store it, and in
        every generic canonical form, so that an IBAN typed with or without spaces finds the same rows."""
        forms = {
            canonical_email(value),
            canonical_number(value),
            canonical_name(value),
            canonical_phone(value),
        }
        for entity in self.analyzer.analyze(value):
            if entity.type not in NOT_SUBJECTS:
                forms.add(canonical(entity.type, value[entity.start : entity.end], entity.subtype))
        return frozenset(self.hasher(form) for form in forms if form)


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a JSON-like value (keys included): where a stored record may mention someone."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)
