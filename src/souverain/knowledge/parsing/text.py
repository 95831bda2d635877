"""Plain text files: decoded from whatever encoding they came in, one section, no headings.
Also home of `decode_text`, which the Markdown and HTML parsers use for their own bytes."""

from __future__ import annotations

import codecs

from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument
from souverain.knowledge.parsing.builder import DocumentBuilder, reject_if_blank

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_SNIFF_BYTES = 65536
# Text never holds these; a file where they are common is binary data declared as text.
_BINARY_BYTES = bytes(code for code in range(0x20) if code not in b"\t\n\r\f\v\x1a\x1b")


def decode_text(data: bytes) -> str:
    """Decode bytes of unknown encoding; never fails. A byte-order mark decides; then UTF-16 without a
    mark (recognised by its zero bytes); then UTF-8; then Windows-1252, the usual legacy encoding of
    Western European files; then Latin-1, which maps every byte."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data[len(mark) :].decode(encoding, errors="replace")
    unmarked_utf16 = _unmarked_utf16(data[:_SNIFF_BYTES])
    if unmarked_utf16:
        return data.decode(unmarked_utf16, errors="replace")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def looks_binary(data: bytes) -> bool:
    head = data[:_SNIFF_BYTES]
    if _unmarked_utf16(head) or any(head.startswith(mark) for mark, _ in _BYTE_ORDER_MARKS):
        return False
    control = len(head) - len(head.translate(None, _BINARY_BYTES))
    return control > max(2, len(head) // 100)


def _unmarked_utf16(head: bytes) -> str | None:
    """UTF-16 without a byte-order mark, as some Windows tools write it: mostly-Latin text then has a
    zero byte in nearly every other position."""
    pairs = len(head) // 2
    if pairs < 2:
        return None
    if head[1::2].count(0) > pairs * 0.4 and head[0::2].count(0) < pairs * 0.1:
        return "utf-16-le"
    if head[0::2].count(0) > pairs * 0.4 and head[1::2].count(0) < pairs * 0.1:
        return "utf-16-be"
    return None


class TextParser:
    name = "plain text"
    media_types = frozenset({"text/plain"})
    extensions = frozenset({".txt", ".text"})

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        reject_if_blank(data)
        if looks_binary(data):
            raise DocumentRejected(
                "The file was declared as plain text but contains binary data; "
                "upload it with its real file type and extension.",
                code="unsupported_media_type",
            )
        builder = DocumentBuilder(max_chars)
        builder.paragraph(decode_text(data))
        return builder.build()
