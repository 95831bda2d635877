"""Text as a person reads it, with a way back to the original's offsets.

People and documents write identifiers with full-width digits, non-breaking or thin spaces, typographic
dashes, and (by accident or on purpose) zero-width or right-to-left marks in the middle of an IBAN. The
recognizers match the folded text; `Folded.span` maps what they found back onto the original, so a mask
covers exactly the characters the caller sent, invisible ones included.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

# Removed: zero-width characters, soft hyphen, word joiner and invisible operators, bidirectional
# marks, embeddings, overrides and isolates, the byte-order mark.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# Made a plain space: no-break, en/em/thin/hair and other fixed-width spaces, ideographic space.
_SPACES = "\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
# Made a plain hyphen: hyphen, non-breaking hyphen, figure, en and em dashes, minus sign, full-width.
_DASHES = "\u2010-\u2015\u2212\ufe63"
# Full-width ASCII (U+FF01..U+FF5E) is ASCII shifted by 0xFEE0.
_FULL_WIDTH = "\uff01-\uff5e"
_SPECIAL = re.compile(
    f"(?P<invisible>[{_INVISIBLE}]+)|(?P<space>[{_SPACES}])|(?P<dash>[{_DASHES}])|[{_FULL_WIDTH}]"
)


@dataclass(frozen=True, slots=True)
class Folded:
    text: str
    # Where the offset between folded and original text changes: from folded index `_folded[k]` on,
    # original index = folded index + `_shift[k]`. Empty when nothing was removed.
    _folded: tuple[int, ...] = ()
    _shift: tuple[int, ...] = ()

    def origin(self, index: int) -> int:
        """The original offset of the folded character at `index`."""
        if not self._folded:
            return index
        position = bisect_right(self._folded, index) - 1
        return index + (self._shift[position] if position >= 0 else 0)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of the folded span [start, end): from its first character's origin to
        just after its last one's, so invisible characters inside are covered and those around are not."""
        if end <= start:
            origin = self.origin(start)
            return origin, origin
        return self.origin(start), self.origin(end - 1) + 1


def fold(text: str) -> Folded:
    """Linear in the length of the text; returns the text itself when there is nothing to fold."""
    if text.isascii() or _SPECIAL.search(text) is None:  # isascii() is a flag read: most texts stop here
        return Folded(text)
    pieces: list[str] = []
    breakpoints: list[int] = []
    shifts: list[int] = []
    removed = 0
    last = 0
    for match in _SPECIAL.finditer(text):
        pieces.append(text[last : match.start()])
        found = match.group()
        if match.lastgroup == "invisible":
            removed += len(found)
            breakpoints.append(match.start() - removed + len(found))
            shifts.append(removed)
        elif match.lastgroup == "space":
            pieces.append(" ")
        elif match.lastgroup == "dash":
            pieces.append("-")
        else:
            pieces.append(chr(ord(found) - 0xFEE0))
        last = match.end()
    pieces.append(text[last:])
    return Folded("".join(pieces), tuple(breakpoints), tuple(shifts))
