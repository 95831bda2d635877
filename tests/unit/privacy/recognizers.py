"""Test-only recognizers for a second type of personal data beside e-mail addresses."""

from __future__ import annotations

import re
from collections.abc import Iterator

from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.recognizers.email import EmailRecognizer

_DUPONT = re.compile(r"\bjean\s+dupont\b", re.IGNORECASE)


class DupontRecognizer:
    """Finds "Jean Dupont", however written: the one person these tests know."""

    name = "dupont"
    types = frozenset({EntityType.PERSON})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        for match in _DUPONT.finditer(text):
            yield Entity(EntityType.PERSON, match.start(), match.end(), 0.9, self.name)


def analyzer() -> Analyzer:
    return Analyzer([EmailRecognizer(), DupontRecognizer()])
