"""Data subjects as keyed hashes: what links a person to the documents, answers and reviews that mention
them, without the store ever holding their identifiers in a form that can be read or guessed.

A subject is HMAC-SHA256, under a key of its own derived from the site's audit key, of a canonical form
of the value: the same e-mail address, IBAN or phone number written another way is the same subject.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from souverain.privacy.analyzer import Analyzer
from souverain.privacy.canonical import (
    canonical,
    canonical_email,
    canonical_name,
    canonical_number,
    canonical_phone,
)
from souverain.privacy.entities import EntityType

# A key of its own: a subject hash must not be comparable with the audit log's content hashes.
_PURPOSE = b"souverain data subjects v1"
# A date of birth, alone, is shared by thousands: recorded as a subject, erasing one person by it would
# erase everyone born that day. It is found (and protected) in texts, but never names a subject.
NOT_SUBJECTS = frozenset({EntityType.DATE_OF_BIRTH})


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
