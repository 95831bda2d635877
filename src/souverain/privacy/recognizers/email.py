"""E-mail addresses: the common form of RFC 5322's addr-spec (dot-atoms, no quoted local parts)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from souverain.privacy.entities import Entity, EntityType

# Bounded repetitions and no nested quantifiers over the same characters: linear on any input.
_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}){0,8}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\w-])"
)


class EmailRecognizer:
    name = "email"
    types = frozenset({EntityType.EMAIL})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        if "@" not in text:  # a scan in C: most texts hold no address
            return
        for match in _EMAIL.finditer(text):
            yield Entity(EntityType.EMAIL, match.start(), match.end(), 1.0, self.name)
