"""Text and regular expressions prepared for fast matching with Python's `re`."""

from __future__ import annotations

import re
from collections.abc import Iterable


def by_first_character(alternatives: Iterable[str]) -> str:
    """An alternation of patterns that each start with a plain character ("née?", "d\\.?o\\.?b"),
    grouped by it; within a group the patterns keep their order. `re` tries every alternative at every
    character of a text: grouped, sixty alternatives cost one test per character where they differ."""
    groups: dict[str, list[str]] = {}
    for alternative in alternatives:
        first = alternative[0]
        if not first.isalnum() or alternative[1:2] in ("?", "*", "+", "{") or _has_top_level_bar(alternative):
            raise ValueError(f"pattern {alternative!r} does not start with a plain character")
        groups.setdefault(first, []).append(alternative[1:])
    return "|".join(
        re.escape(first) + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")")
        for first, rests in groups.items()
    )


def _has_top_level_bar(pattern: str) -> bool:
    """Whether `pattern` is itself an alternation ("x|y"): its first character would then only belong to
    the first alternative."""
    depth = 0
    escaped = False
    for character in pattern:
        if escaped:
            escaped = False
        elif character == "\\":
            escaped = True
        elif character in "([":
            depth += 1
        elif character in ")]":
            depth -= 1
        elif character == "|" and depth == 0:
            return True
    return False


def lower_keeping_offsets(text: str) -> str:
    """`text` in lower case, character for character: the few characters whose lower case is longer
    ("İ" becomes "i̇") are left as they are, so that offsets in the result are offsets in `text`."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(character if len(low := character.lower()) != 1 else low for character in text)
