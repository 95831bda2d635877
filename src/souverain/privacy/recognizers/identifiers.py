"""National identification, tax and social security numbers of the 27 member states."""

from __future__ import annotations

from souverain.privacy.candidates import FormatMatcher
from souverain.privacy.identifiers_table import IDENTIFIER_FORMATS


class IdentifierRecognizer(FormatMatcher):
    def __init__(self, min_score: float = 0.0) -> None:
        # Told the analyzer's threshold, it skips validating what could not pass it anyway.
        super().__init__("identifiers", IDENTIFIER_FORMATS, min_score)
