"""What every parser shares: text normalisation, the too-long and empty checks, and the assembly of
blocks into one text whose sections index into it exactly."""

from __future__ import annotations

import re
import unicodedata

from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument, Section

BLOCK_SEPARATOR = "\n\n"

# Line and page breaks of every convention become "\n"; other control characters, byte-order marks,
# soft hyphens and lone surrogates are dropped: they are invisible, break word matching in search, and
# surrogates cannot even be stored as UTF-8. (Regular expressions, not str.translate: ten times faster
# on text where these characters are rare, as they are.)
_LINE_BREAKS = re.compile("[\r\f\v\x85\u2028\u2029]")
_DROPPED = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\xad\ud800-\udfff\ufeff\ufffe\uffff]")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, "\\n" line ends, no control characters but tab and newline, at most one blank line in a row,
    no trailing spaces on a line, no surrounding whitespace."""
    text = _DROPPED.sub("", _LINE_BREAKS.sub("\n", text.replace("\r\n", "\n")))
    text = unicodedata.normalize("NFC", text)
    text = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def single_line(text: str) -> str:
    """A heading or title: normalised, whitespace runs (newlines included) collapsed to one space."""
    return " ".join(normalize_text(text).split())


def reject_if_blank(data: bytes) -> None:
    if not data.strip():
        raise DocumentRejected("The file is empty or contains only whitespace.", code="empty_document")


def too_long(max_chars: int) -> DocumentRejected:
    return DocumentRejected(
        f"The document's text is longer than the limit of {max_chars:,} characters; "
        "split it into smaller documents.",
        code="text_too_long",
    )


class DocumentBuilder:
    """Collects a parser's blocks in reading order and assembles them into a ParsedDocument.

    Each block is normalised on its own and blocks are joined by one blank line, so a section's span is
    known the moment its block is added: no offset is ever recomputed after the fact. A new section
    starts at every heading and at every change of page. The limit is checked while adding, so a huge
    document is refused before all of it has been extracted.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._parts: list[str] = []
        self._length = 0
        self._sections: list[Section] = []
        self._open_start: int | None = None  # where the section being built starts, None when none is
        self._page: int | None = None
        self._heading = ""

    @property
    def is_empty(self) -> bool:
        return not self._parts

    def heading(self, text: str, *, page: int | None = None) -> str:
        """Start a section under this heading, whose text opens the section; returns the heading used."""
        heading = single_line(text)
        if heading:
            self._close_section()
            self._heading, self._page = heading, page
            self._append(heading)
        return heading

    def paragraph(self, text: str, *, page: int | None = None, heading: str | None = None) -> None:
        """Add a block of body text; `heading` sets the section's heading without adding text (for
        formats such as PDF whose headings live outside the text, in the outline)."""
        block = normalize_text(text)
        if not block:
            return
        new_heading = self._heading if heading is None else single_line(heading)
        if (page, new_heading) != (self._page, self._heading):
            self._close_section()
            self._page, self._heading = page, new_heading
        self._append(block)

    def build(self, *, title: str | None = None, pages: int | None = None) -> ParsedDocument:
        self._close_section()
        if not self._parts:
            raise DocumentRejected("The document contains no text.", code="empty_document")
        text = "".join(self._parts)
        return ParsedDocument(text=text, sections=tuple(self._sections), title=title or None, pages=pages)

    def _append(self, block: str) -> None:
        if self._parts:
            self._parts.append(BLOCK_SEPARATOR)
            self._length += len(BLOCK_SEPARATOR)
        if self._open_start is None:
            self._open_start = self._length
        self._parts.append(block)
        self._length += len(block)
        if self._length > self.max_chars:
            raise too_long(self.max_chars)

    def _close_section(self) -> None:
        if self._open_start is not None:
            self._sections.append(Section(self._open_start, self._length, self._page, self._heading))
            self._open_start = None
