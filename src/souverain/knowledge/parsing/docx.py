"""Word documents (DOCX) through python-docx: paragraphs and tables in reading order, headings from the
Title and Heading styles; headers, footers and comments are left out."""

from __future__ import annotations

import io
import zipfile
import zlib
from typing import Any

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table

from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument
from souverain.knowledge.parsing.builder import DocumentBuilder, reject_if_blank, single_line

# A password-protected Office file is not a zip at all but an OLE compound file holding this stream.
_OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")

# What python-docx lets escape on a file that is not a valid DOCX: zip errors, missing parts (KeyError),
# malformed XML (lxml's errors are SyntaxErrors), values it cannot convert.
_MALFORMED = (
    zipfile.BadZipFile,
    PackageNotFoundError,
    LookupError,
    ValueError,
    SyntaxError,
    TypeError,
    AttributeError,
    OSError,
    EOFError,
    NotImplementedError,
    zlib.error,
)


class DocxParser:
    name = "Word (DOCX)"
    media_types = frozenset({"application/vnd.openxmlformats-officedocument.wordprocessingml.document"})
    extensions = frozenset({".docx"})

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        reject_if_blank(data)
        if data.startswith(_OLE_SIGNATURE):
            raise _ole_rejection(data)
        builder = DocumentBuilder(max_chars)
        try:
            document = docx.Document(io.BytesIO(data))
            title = _extract(document, builder)
            title = single_line(document.core_properties.title or "") or title
        except _MALFORMED as error:
            raise DocumentRejected(
                "The file is not a readable Word (DOCX) document: it is damaged or of another format. "
                "Open it in a word processor and save it again as .docx.",
                code="corrupt_document",
            ) from error
        return builder.build(title=title or None)


def _extract(document: Any, builder: DocumentBuilder) -> str:
    """Feed the body to the builder in reading order; returns the first Title-style paragraph."""
    # Style names by id, read once: python-docx's `Paragraph.style` rescans the whole style sheet on
    # every call (20 s for a 15,000-paragraph report). Names, not ids, because ids are localised
    # ("Titre1", "berschrift1") while built-in names stay English ("Heading 1").
    style_names = {style.style_id: style.name or "" for style in document.styles}
    title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            builder.paragraph(_table_text(block))
            continue
        style = style_names.get(block._p.style, "")
        if style == "Title" or style.startswith("Heading"):
            heading = builder.heading(block.text)
            if style == "Title" and not title:
                title = heading
        else:
            builder.paragraph(block.text)
    return title


def _table_text(table: Any) -> str:
    """One line per row, cells separated by " | "."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            # python-docx repeats a merged cell once per grid column it spans; its XML element is the
            # same object each time, so compare that (a `_Cell` has no identity of its own).
            if cell._tc is previous:
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _ole_rejection(data: bytes) -> DocumentRejected:
    if _ENCRYPTED_STREAM in data:
        return DocumentRejected(
            "The Word document is protected by a password; upload a copy without the password.",
            code="encrypted_document",
        )
    return DocumentRejected(
        "The file is an older Word (.doc) or other Office binary file, not DOCX; "
        "open it in a word processor and save it as .docx or PDF.",
        code="unsupported_media_type",
    )
