"""PDF files through pypdf: the text layer page by page, each page its own section with its number, and
headings taken from the document outline (bookmarks) when it has one."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError
from pypdf.generic import Destination

from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument
from souverain.knowledge.parsing.builder import DocumentBuilder, reject_if_blank, single_line

# What pypdf lets escape on a malformed file besides its own errors: it indexes, unpacks and inflates
# whatever the file claims. All of it means the same to a user: the file is damaged.
_MALFORMED = (
    PyPdfError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    AssertionError,
    RecursionError,
    OSError,
    struct.error,
    zlib.error,
)


def _corrupt(where: str = "") -> DocumentRejected:
    return DocumentRejected(
        f"The file is not a readable PDF{where}: it is damaged or truncated. "
        "Open it in a PDF reader and export it again.",
        code="corrupt_document",
    )


def _encrypted() -> DocumentRejected:
    return DocumentRejected(
        "The PDF is protected by a password; upload a copy without the password.",
        code="encrypted_document",
    )


class PdfParser:
    name = "PDF"
    media_types = frozenset({"application/pdf", "application/x-pdf"})
    extensions = frozenset({".pdf"})

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        reject_if_blank(data)
        try:
            reader = PdfReader(io.BytesIO(data))
            _open(reader)
            page_count = len(reader.pages)
        except DocumentRejected:
            raise
        except _MALFORMED as error:
            raise _corrupt() from error
        if page_count == 0:
            raise DocumentRejected("The PDF has no pages.", code="empty_document")

        headings = _outline_headings(reader)
        builder = DocumentBuilder(max_chars)
        heading = ""
        for index in range(page_count):
            heading = headings.get(index, heading)
            try:
                page_text = reader.pages[index].extract_text()
            except _MALFORMED as error:
                raise _corrupt(f" (page {index + 1} cannot be read)") from error
            builder.paragraph(page_text, page=index + 1, heading=heading)
        if builder.is_empty:
            # pypdf reads the text layer only; a page that is a picture of text (a scan) has none.
            raise DocumentRejected(
                f"The PDF has {page_count} page(s) but no text layer: it is probably scanned or made of "
                "images. Run OCR on it (for example with OCRmyPDF) and upload the result.",
                code="no_extractable_text",
            )
        return builder.build(title=_title(reader), pages=page_count)


def _open(reader: PdfReader) -> None:
    """Decrypt when needed: many PDFs are encrypted only to restrict printing or copying, with an empty
    password to open them, and those are readable."""
    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("")
    except (DependencyError, FileNotDecryptedError, NotImplementedError) as error:
        # DependencyError: AES needs the `cryptography` package; without it, the file cannot be opened.
        raise _encrypted() from error
    if not opened:
        raise _encrypted()


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except _MALFORMED:
        # A broken information dictionary costs the title, not the document.
        return None
    return (single_line(title) or None) if isinstance(title, str) else None


def _outline_headings(reader: PdfReader) -> dict[int, str]:
    """For each page where an outline entry starts, the first such entry's title (0-based page index).

    An outline points at pages, not at positions on them, so a page takes the title of the first entry
    starting on it (chapters usually start at the top of a page), and following pages keep the last.
    """
    try:
        outline: list[Any] = list(reader.outline)
    except _MALFORMED:
        return {}  # the outline is optional; a broken one must not cost the document
    first: dict[int, str] = {}
    last: dict[int, str] = {}
    pending = list(reversed(outline))
    while pending:  # iterative: an outline's nesting depth is whatever the file says
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(reversed(item))
            continue
        if not isinstance(item, Destination):
            continue
        try:
            page = reader.get_destination_page_number(item)
            title = single_line(str(item.title or ""))
        except _MALFORMED:
            continue
        if page is None or page < 0 or not title:
            continue
        first.setdefault(page, title)
        last[page] = title
    headings: dict[int, str] = {}
    for page in sorted(first):
        headings[page] = first[page]
        if page + 1 not in first:
            headings[page + 1] = last[page]
    return headings
