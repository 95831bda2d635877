"""What a recognizer is: something that finds one or more types of personal data in a text.

Recognizers see the text already folded (`privacy.folding`): zero-width and bidirectional marks gone,
full-width digits and letters made ASCII, every kind of space and dash made plain, so that they match
what a person reads rather than the bytes. Their spans are in that folded text; the analyzer maps them
back to the original.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from souverain.privacy.entities import Entity, EntityType


class Recognizer(Protocol):
    name: str
    types: frozenset[EntityType]  # what it can find, so the analyzer can skip it when none is wanted

    def find(self, text: str, language: str | None) -> Iterable[Entity]:
        """The entities in `text`, in any order, overlapping or not. Must run in time linear in the
        length of the text (no backtracking regular expression on unbounded input)."""
        ...
