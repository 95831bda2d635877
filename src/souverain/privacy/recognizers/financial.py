"""IBAN, EU VAT numbers and payment card numbers, each checked by its checksum."""

from __future__ import annotations

from collections.abc import Iterator

from souverain.privacy.candidates import FormatMatcher
from souverain.privacy.context_words import CONTEXT_WORDS
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.financial_table import FINANCIAL_FORMATS


class FinancialRecognizer:
    name = "financial"
    types = frozenset({EntityType.IBAN, EntityType.VAT, EntityType.CARD})

    def __init__(self, min_score: float = 0.0) -> None:
        # Told the analyzer's threshold, it skips validating what could not pass it anyway.
        self._matcher = FormatMatcher(self.name, FINANCIAL_FORMATS, CONTEXT_WORDS, min_score)

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        return self._matcher.find(text, language)
