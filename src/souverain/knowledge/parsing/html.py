"""Web pages (HTML) through selectolax's lexbor engine: the readable text, one block per block element,
headings h1 to h6 as section headings; scripts, styles, navigation and page chrome left out."""

from __future__ import annotations

import codecs
import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from souverain.knowledge.parsing.base import ParsedDocument
from souverain.knowledge.parsing.builder import DocumentBuilder, reject_if_blank, single_line
from souverain.knowledge.parsing.text import decode_text

# Never text a reader sees as content.
_DROPPED = frozenset(
    {"head", "script", "style", "noscript", "template", "nav", "svg", "iframe", "object", "embed", "canvas"}
    | {"select", "button", "datalist"}
)
# A site's banner and footer are dropped, but an article's own header (its title, its date) is content.
_PAGE_CHROME = frozenset({"header", "footer"})
_CONTENT_ROOTS = frozenset({"article", "main"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCKS = frozenset(
    {"address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog"}
    | {"div", "dl", "dt", "fieldset", "figcaption", "figure", "form", "hr", "html", "legend", "li"}
    | {"main", "ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"}
    | {"header", "footer", "hgroup", "menu", "search"}
)
_CELLS = frozenset({"td", "th"})
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_LINE_START_SPACES = re.compile(r"\n +")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_UNICODE_MARKS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class HtmlParser:
    name = "HTML"
    media_types = frozenset({"text/html", "application/xhtml+xml"})
    extensions = frozenset({".html", ".htm", ".xhtml"})

    def parse(self, data: bytes, max_chars: int) -> ParsedDocument:
        reject_if_blank(data)
        tree = LexborHTMLParser(decode_html(data))
        builder = DocumentBuilder(max_chars)
        first_h1 = add_html(builder, tree)
        # In <head> only: an inline SVG's <title> is a tooltip, not the page's title.
        title_node = tree.head.css_first("title") if tree.head is not None else None
        title = single_line(title_node.text()) if title_node is not None else ""
        return builder.build(title=title or first_h1 or None)


def add_html(builder: DocumentBuilder, tree: LexborHTMLParser) -> str:
    """Give the builder the readable text of a parsed page (or fragment); returns its first h1."""
    collector = _Collector(builder)
    root = tree.body or tree.root
    if root is not None:
        _walk(root, collector)
    return collector.first_h1


def decode_html(data: bytes) -> str:
    """A byte-order mark first, then the page's own <meta charset>, then the plain-text guesses."""
    if not data.startswith(_UNICODE_MARKS):
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            encoding = _html_encoding(declared.group(1).decode("ascii"))
            if encoding:
                return data.decode(encoding, errors="replace")
    return decode_text(data)


def _html_encoding(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # As browsers do (WHATWG Encoding): a page saying UTF-16 in ASCII is not UTF-16, and Latin-1 and
    # ASCII labels mean Windows-1252.
    if name.startswith(("utf-16", "utf-32")):
        return None
    if name in {"latin-1", "iso8859-1", "ascii"}:
        return "cp1252"
    return name


class _Collector:
    """Gathers inline text into blocks and hands them to the builder when a block element ends."""

    def __init__(self, builder: DocumentBuilder) -> None:
        self.builder = builder
        self.inline: list[str] = []
        self.heading_depth = 0
        self.heading_parts: list[str] = []
        self.first_h1 = ""

    def text(self, text: str, *, preformatted: bool) -> None:
        target = self.heading_parts if self.heading_depth else self.inline
        target.append(text if preformatted else _HTML_WHITESPACE.sub(" ", text))

    def line_break(self) -> None:
        (self.heading_parts if self.heading_depth else self.inline).append("\n")

    def cell(self) -> None:
        if "".join(self.inline).strip():
            self.text(" | ", preformatted=True)

    def block_boundary(self, *, preformatted: bool = False) -> None:
        if self.heading_depth:
            self.heading_parts.append(" ")  # a block inside a heading is still the same heading
            return
        block = "".join(self.inline)
        self.inline.clear()
        self.builder.paragraph(block if preformatted else _LINE_START_SPACES.sub("\n", block))

    def start_heading(self) -> None:
        if not self.heading_depth:
            self.block_boundary()
            self.heading_parts.clear()
        self.heading_depth += 1

    def end_heading(self, tag: str) -> None:
        self.heading_depth -= 1
        if not self.heading_depth:
            heading = self.builder.heading("".join(self.heading_parts))
            if tag == "h1" and not self.first_h1:
                self.first_h1 = heading


def _walk(root: LexborNode, collector: _Collector) -> None:
    """Depth-first over the tree with explicit enter and leave steps: a page nested ten thousand levels
    deep must not exhaust Python's recursion limit."""
    pending: list[tuple[LexborNode, bool]] = [(root, False)]
    preformatted = 0
    in_content = 0
    while pending:
        node, leaving = pending.pop()
        tag = node.tag or ""
        if leaving:
            if tag in _HEADINGS:
                collector.end_heading(tag)
            elif tag == "pre":
                collector.block_boundary(preformatted=True)
                preformatted -= 1
            elif tag in _BLOCKS:
                collector.block_boundary()
            if tag in _CONTENT_ROOTS:
                in_content -= 1
            continue
        if tag == "-text":
            collector.text(node.text_content or "", preformatted=preformatted > 0)
            continue
        if tag.startswith("-") or tag in _DROPPED or (tag in _PAGE_CHROME and not in_content):
            continue  # comments, doctypes, and what is not content
        if "hidden" in node.attributes:
            continue
        if tag == "br":
            collector.line_break()
        elif tag in _CELLS:
            collector.cell()
        elif tag in _HEADINGS:
            collector.start_heading()
        elif tag in _BLOCKS:
            collector.block_boundary()
        if tag == "pre":
            preformatted += 1
        if tag in _CONTENT_ROOTS:
            in_content += 1
        pending.append((node, True))
        pending.extend((child, False) for child in reversed(list(node.iter(include_text=True))))
