"""National identification, tax and social security numbers of the 27 member states."""

from __future__ import annotations

from collections.abc import Iterator

from souverain.privacy.candidates import FormatMatcher
from souverain.privacy.context_words import CONTEXT_WORDS
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.identifiers_table import IDENTIFIER_FORMATS


class IdentifierRecognizer:
    name = "identifiers"
    types = frozenset({EntityType.NATIONAL_ID, EntityType.TAX_ID, EntityType.SOCIAL_SECURITY})

    def __init__(self, min_score: float = 0.0) -> None:
        # Told the analyzer's threshold, it skips validating what could not pass it anyway.
        self._matcher = FormatMatcher(self.name, IDENTIFIER_FORMATS, CONTEXT_WORDS, min_score)

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        return self._matcher.find(text, language)
