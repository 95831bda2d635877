"""Typed, reversible placeholders (`<PERSON_1>`) for one conversation, and putting the values back into
what a model writes, whole or streamed chunk by chunk."""

from __future__ import annotations

import re
from collections.abc import Iterable

from souverain.privacy.canonical import canonical
from souverain.privacy.entities import ENTITY_TYPES, EntityType

_DIGITS_MAX = 6  # a conversation with a million persons in it is not one
_PLACEHOLDER = re.compile("<(" + "|".join(ENTITY_TYPES) + r")_([1-9][0-9]{0," + str(_DIGITS_MAX - 1) + "})>")


class Pseudonyms:
    """The placeholders of one conversation and the values they stand for.

    Numbering is by first appearance, per type, walking the messages in order: the same conversation
    sent again with one more turn (as chat clients do, every turn) gets the same placeholders for the
    values it already held. That is why the mapping need not outlive the request: it is rebuilt, the
    same, from the conversation itself, and is kept in memory only while its answer is restored.
    """

    def __init__(self) -> None:
        self._placeholders: dict[tuple[EntityType, str], str] = {}
        self._values: dict[str, str] = {}
        self._counts: dict[EntityType, int] = {}

    def placeholder(self, entity_type: EntityType, value: str) -> str:
        key = (entity_type, canonical(entity_type, value))
        found = self._placeholders.get(key)
        if found is None:
            number = self._counts.get(entity_type, 0) + 1
            self._counts[entity_type] = number
            found = self._placeholders[key] = f"<{entity_type.value}_{number}>"
            self._values[found] = value  # its first writing is the one the answer gets back
        return found

    def __bool__(self) -> bool:
        return bool(self._values)

    @property
    def types(self) -> frozenset[EntityType]:
        return frozenset(self._counts)

    def restore(self, text: str) -> str:
        """`text` with every placeholder of this conversation replaced by its value; a placeholder the
        model made up (`<PERSON_9>` when there were two persons) stays as it is."""
        if "<" not in text:
            return text
        return _PLACEHOLDER.sub(lambda match: self._values.get(match.group(), match.group()), text)

    def restorer(self) -> Restorer:
        return Restorer(self)


class Restorer:
    """Restores a text that arrives in pieces, where a placeholder may be cut anywhere (`<PER` +
    `SON_1>`): each piece's text is given back at once, except a trailing part that could still become a
    placeholder of this conversation (at most 23 characters), which waits for the next piece or `flush`."""

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self._pseudonyms = pseudonyms
        self._prefixes = tuple(f"{entity_type.value}_" for entity_type in sorted(pseudonyms.types))
        self._longest = max((len(prefix) for prefix in self._prefixes), default=0) + _DIGITS_MAX + 1
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = self._cut(text)
        self._held = text[cut:]
        return self._pseudonyms.restore(text[:cut])

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held  # not a whole placeholder, or `_cut` would have let it go

    def _cut(self, text: str) -> int:
        """Where the part that may still become a placeholder starts (`len(text)` when none does)."""
        start = text.rfind("<", max(0, len(text) - self._longest))
        if start < 0 or not _could_become(text[start + 1 :], self._prefixes):
            return len(text)
        return start


def _could_become(tail: str, prefixes: Iterable[str]) -> bool:
    """Whether `<` + `tail` is the beginning of `<TYPE_N>` for one of these `TYPE_` prefixes."""
    for prefix in prefixes:
        if prefix.startswith(tail):
            return True
        digits = tail[len(prefix) :]
        if (
            tail.startswith(prefix)
            and len(digits) <= _DIGITS_MAX
            and ((digits.isascii() and digits.isdigit()) or not digits)
        ):
            return True
    return False
