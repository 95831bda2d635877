"""Which parser reads an upload: by its declared media type, then its file extension, then its first
bytes. A new format is a new module and one line in PARSERS."""

from __future__ import annotations

import codecs
import posixpath
import re

from souverain.knowledge.parsing.base import DocumentRejected, Parser
from souverain.knowledge.parsing.docx import DocxParser
from souverain.knowledge.parsing.html import HtmlParser
from souverain.knowledge.parsing.markdown import MarkdownParser
from souverain.knowledge.parsing.pdf import PdfParser
from souverain.knowledge.parsing.text import TextParser, looks_binary

PARSERS: tuple[Parser, ...] = (PdfParser(), DocxParser(), HtmlParser(), MarkdownParser(), TextParser())

SUPPORTED = "; ".join(
    f"{parser.name} ({', '.join(sorted(parser.extensions))})" for parser in PARSERS
)  # for messages and docs: "PDF (.pdf); Word (DOCX) (.docx); ..."

# Types that say nothing about the format (curl's and many browsers' default for a file), or too little:
# a Markdown file often arrives as text/plain. The extension and the content decide first.
_VAGUE_MEDIA_TYPES = frozenset(
    {"", "application/octet-stream", "binary/octet-stream", "application/x-download", "text/plain"}
)
_PRINTABLE_EXTENSION = re.compile(r"\.[a-z0-9]{1,10}")


def parser_for(filename: str, media_type: str | None, data: bytes) -> Parser:
    """The parser for this upload, or DocumentRejected(code="unsupported_media_type")."""
    declared = (media_type or "").split(";", 1)[0].strip().lower()
    extension = posixpath.splitext(filename.replace("\\", "/").lower())[1]
    if declared not in _VAGUE_MEDIA_TYPES:
        parser = _by_media_type(declared)
        if parser is not None:
            return parser
    for parser in PARSERS:
        if extension in parser.extensions:
            return parser
    parser = _by_content(data)
    if parser is None and declared:
        parser = _by_media_type(declared)
    if parser is not None:
        return parser
    raise DocumentRejected(_unsupported_message(declared, extension), code="unsupported_media_type")


def _by_media_type(media_type: str) -> Parser | None:
    return next((parser for parser in PARSERS if media_type in parser.media_types), None)


def _by_type_of(kind: type) -> Parser:
    return next(parser for parser in PARSERS if isinstance(parser, kind))


def _by_content(data: bytes) -> Parser | None:
    head = data[:1024]
    # The PDF specification lets a header follow some leading junk; readers look within the first KB.
    if b"%PDF-" in head:
        return _by_type_of(PdfParser)
    if data.startswith(b"PK\x03\x04") and b"word/document.xml" in data:
        return _by_type_of(DocxParser)
    lowered = head.removeprefix(codecs.BOM_UTF8).lstrip().lower()
    if lowered.startswith(b"<!doctype html") or b"<html" in lowered:
        return _by_type_of(HtmlParser)
    if data.strip() and not looks_binary(data) and _decodes_as_text(head):
        return _by_type_of(TextParser)
    return None


def _decodes_as_text(head: bytes) -> bool:
    """UTF-8 (a character cut at the end of the sample is fine) or a Unicode byte-order mark."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _unsupported_message(media_type: str, extension: str) -> str:
    # Only the type and a plain extension are echoed: a file name can itself be personal data.
    described = ", ".join(
        part
        for part in (
            f"media type {media_type[:100]}" if media_type else "",
            f"extension {extension}" if _PRINTABLE_EXTENSION.fullmatch(extension) else "",
        )
        if part
    )
    return f"Unsupported file type{f' ({described})' if described else ''}; supported formats: {SUPPORTED}."
