"""Markdown files through markdown-it-py (CommonMark with tables): the text without its markup, `#`
headings as section headings, the title from YAML front matter or the first level-1 heading."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token
from selectolax.lexbor import LexborHTMLParser

from souverain.knowledge.parsing.base import ParsedDocument
from souverain.knowledge.parsing.builder import DocumentBuilder, reject_if_blank, single_line
from souverain.knowledge.parsing.html import add_html
from souverain.knowledge.parsing.text import decode_text

# Front matter is metadata, not text; CommonMark alone would read its closing `---` as the underline of
# a heading and index the YAML. It must open with a `key:` line, so that a document merely starting
# with a thematic break (`---`) keeps its text.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n([\w-]+[ \t]*:.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"""^title:[ \t]*["']?(.*?)["']?[ \t]*$""", re.MULTILINE)
_INLINE_TEXT = frozenset({"text", "text_special", "code_inline", "image"})  # an image's content: its alt
_INLINE_BREAKS = frozenset({"softbreak", "hardbreak"})


class MarkdownParser:
    name = "Markdown"
    media_types = frozenset({"text/markdown", "text/x-markdown"})
    extensions = frozenset({".md", ".markdown"})

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        reject_if_blank(data)
        source = decode_text(data)
        title = ""
        front_matter = _FRONT_MATTER.match(source)
        if front_matter:
            declared = _FRONT_MATTER_TITLE.search(front_matter.group(1))
            title = single_line(declared.group(1)) if declared else ""
            source = source[front_matter.end() :]
        builder = DocumentBuilder(max_chars)
        first_h1 = _add_tokens(builder, MarkdownIt("commonmark").enable("table").parse(source))
        return builder.build(title=title or first_h1 or None)


def _add_tokens(builder: DocumentBuilder, tokens: list[Token]) -> str:
    """Give the builder each block's text in order; returns the first level-1 heading."""
    first_h1 = ""
    heading_tag = ""
    table: list[list[str]] | None = None  # rows of cells while inside a table
    for token in tokens:
        kind = token.type
        if kind == "heading_open":
            heading_tag = token.tag
        elif kind == "heading_close":
            heading_tag = ""
        elif kind == "inline":
            text = _inline_text(token)
            if heading_tag:
                heading = builder.heading(text)
                if heading_tag == "h1" and not first_h1:
                    first_h1 = heading
            elif table is not None:
                table[-1].append(" ".join(text.split()))
            else:
                builder.paragraph(text)
        elif kind == "table_open":
            table = []
        elif kind == "tr_open" and table is not None:
            table.append([])
        elif kind == "table_close" and table is not None:
            builder.paragraph("\n".join(" | ".join(row) for row in table if any(row)))
            table = None
        elif kind in ("fence", "code_block"):
            builder.paragraph(token.content)
        elif kind == "html_block":
            add_html(builder, LexborHTMLParser(token.content))
    return first_h1


def _inline_text(token: Token) -> str:
    parts = []
    for child in token.children or ():
        if child.type in _INLINE_TEXT:
            parts.append(child.content)
        elif child.type in _INLINE_BREAKS:
            parts.append("\n")
    return "".join(parts)
