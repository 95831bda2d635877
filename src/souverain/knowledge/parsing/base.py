"""The Parser protocol, what a parser returns, and why a file is refused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from souverain.errors import InvalidRequest


class DocumentRejected(InvalidRequest):
    """A file that cannot become a document; `code` says why (stable, for clients and the CLI summary):
    unsupported_media_type, encrypted_document, corrupt_document, empty_document, no_extractable_text,
    document_too_large, text_too_long."""

    default_code = "document_rejected"


@dataclass(frozen=True)
class Section:
    """A run of the extracted text under one heading on one page: `text[start:end]` of the document."""

    start: int
    end: int
    page: int | None  # 1-based, for paged formats (PDF)
    heading: str  # the nearest heading above it, "" when none


@dataclass(frozen=True)
class ParsedDocument:
    text: str  # all extracted text; sections index into it, and so do citations
    sections: tuple[Section, ...]
    title: str | None
    pages: int | None


class Parser(Protocol):
    name: str  # what users call the format, for messages: "PDF", "Word (DOCX)"
    media_types: frozenset[str]  # e.g. "application/pdf"
    extensions: frozenset[str]  # e.g. ".pdf"

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        """Extract text, pages and headings; raise DocumentRejected naming what is wrong."""
