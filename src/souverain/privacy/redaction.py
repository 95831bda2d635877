"""Taking one data subject out of a text, in place, and leaving everything else as it was."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from souverain.privacy.splicing import spliced
from souverain.privacy.subjects import Subjects

ERASED = "[ERASED]"
# A value typed by a person is also looked for as it is written (where the recognizers might not find it
# in a document's context), between word boundaries; shorter ones would erase parts of other words.
_LITERAL_MIN_CHARS = 3


class Redactor:
    """Replaces the mentions of a subject (any of `subjects`, keyed hashes) and the typed value itself."""

    def __init__(self, finder: Subjects, subjects: Collection[str], value: str) -> None:
        self.finder = finder
        self.subjects = frozenset(subjects)
        typed = value.strip()
        self._literal = (
            re.compile(rf"(?<!\w){re.escape(typed)}(?!\w)", re.IGNORECASE)
            if len(typed) >= _LITERAL_MIN_CHARS
            else None
        )

    def text(self, text: str, language: str | None = None) -> str:
        redacted = spliced(
            text,
            [
                (mention.start, mention.end, ERASED)
                for mention in self.finder.mentions(text, language)
                if mention.subject in self.subjects
            ],
        )
        return self._literal.sub(ERASED, redacted) if self._literal else redacted

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string in it redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(key)): self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
