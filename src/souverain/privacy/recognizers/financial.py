"""IBAN, EU VAT numbers and payment card numbers, each checked by its checksum."""

from __future__ import annotations

from souverain.privacy.candidates import FormatMatcher
from souverain.privacy.financial_table import FINANCIAL_FORMATS


class FinancialRecognizer(FormatMatcher):
    def __init__(self, min_score: float = 0.0) -> None:
        # Told the analyzer's threshold, it skips validating what could not pass it anyway.
        super().__init__("financial", FINANCIAL_FORMATS, min_score)
