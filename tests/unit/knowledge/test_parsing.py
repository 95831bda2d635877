"""Parsing uploads: real PDF, DOCX, HTML, Markdown and text files in, text with exact sections out, and
every bad file refused with the stable code a client can act on."""

from __future__ import annotations

import codecs
import io
import zipfile
from collections.abc import Callable

import docx
import pytest

from souverain.knowledge.parsing.base import DocumentRejected, ParsedDocument, Parser
from souverain.knowledge.parsing.builder import normalize_text
from souverain.knowledge.parsing.docx import DocxParser
from souverain.knowledge.parsing.html import HtmlParser
from souverain.knowledge.parsing.markdown import MarkdownParser
from souverain.knowledge.parsing.pdf import PdfParser
from souverain.knowledge.parsing.registry import PARSERS, SUPPORTED, parser_for
from souverain.knowledge.parsing.text import TextParser

from .documents import (
    PAGE_TEXTS,
    assert_sections_index_text,
    docx_bytes,
    encrypted,
    guide_docx,
    pdf_bytes,
    section_texts,
    with_outline,
)

LIMIT = 1_000_000
OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def rejected(parser: Parser, data: bytes, max_chars: int = LIMIT) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        parser.parse(data, max_chars)
    return caught.value


# --- PDF -----------------------------------------------------------------------------------------------


def test_a_pdf_keeps_its_pages_accents_and_title() -> None:
    parsed = PdfParser().parse(pdf_bytes(PAGE_TEXTS, title="Rapport annuel"), LIMIT)

    assert_sections_index_text(parsed)
    assert parsed.pages == 3
    assert parsed.title == "Rapport annuel"
    assert [section.page for section in parsed.sections] == [1, 2, 3]
    for section, lines in zip(parsed.sections, PAGE_TEXTS, strict=True):
        assert parsed.text[section.start : section.end] == "\n".join(lines)
    assert "Le ministère a publié un rapport détaillé" in parsed.text
    assert "Größere Städte" in parsed.text


def test_blank_pages_are_skipped_without_shifting_page_numbers() -> None:
    parsed = PdfParser().parse(pdf_bytes([PAGE_TEXTS[0], [], PAGE_TEXTS[1]]), LIMIT)

    assert parsed.pages == 3
    assert [section.page for section in parsed.sections] == [1, 3]
    assert section_texts(parsed)[1].startswith("Le ministère")


def test_outline_entries_become_the_headings_of_their_pages() -> None:
    pages = [*PAGE_TEXTS, ["Annexe sans signet."]]
    data = with_outline(
        pdf_bytes(pages), [("1. Santé", 0, False), ("1.1 Hôpitaux", 1, True), ("2. Gesundheit", 2, False)]
    )

    parsed = PdfParser().parse(data, LIMIT)

    assert [(section.page, section.heading) for section in parsed.sections] == [
        (1, "1. Santé"),
        (2, "1.1 Hôpitaux"),
        (3, "2. Gesundheit"),
        (4, "2. Gesundheit"),
    ]


def test_a_pdf_locked_by_a_password_is_refused_as_encrypted() -> None:
    error = rejected(PdfParser(), encrypted(pdf_bytes(PAGE_TEXTS), user_password="s3cret"))

    assert error.code == "encrypted_document"
    assert error.status == 400
    assert "password" in error.message


def test_a_pdf_encrypted_only_against_copying_opens_with_the_empty_password() -> None:
    parsed = PdfParser().parse(encrypted(pdf_bytes(PAGE_TEXTS), user_password=""), LIMIT)

    assert parsed.pages == 3
    assert "Hospitals reported fewer admissions" in parsed.text


@pytest.mark.parametrize(
    "pages", [[None], [[]], [None, [], None]], ids=["image-only", "blank", "images-and-blank"]
)
def test_a_pdf_without_a_text_layer_asks_for_ocr(pages: list[list[str] | None]) -> None:
    error = rejected(PdfParser(), pdf_bytes(pages))

    assert error.code == "no_extractable_text"
    assert "no text layer" in error.message
    assert "OCR" in error.message


def test_a_scanned_page_among_text_pages_leaves_the_text_pages() -> None:
    parsed = PdfParser().parse(pdf_bytes([PAGE_TEXTS[0], None, PAGE_TEXTS[2]]), LIMIT)

    assert [section.page for section in parsed.sections] == [1, 3]


@pytest.mark.parametrize(
    "cut",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data[:-60],
        lambda data: b"%PDF-1.7\n" + bytes(range(256)) * 8,
        lambda data: b"%PDF-",
        lambda data: b"this is not a PDF at all",
    ],
    ids=["half", "tail-missing", "garbage-after-header", "header-only", "not-a-pdf"],
)
def test_a_damaged_pdf_is_refused_as_corrupt(cut: Callable[[bytes], bytes]) -> None:
    error = rejected(PdfParser(), cut(pdf_bytes(PAGE_TEXTS)))

    assert error.code == "corrupt_document"


# --- DOCX ----------------------------------------------------------------------------------------------


def test_a_word_document_keeps_headings_paragraphs_and_tables() -> None:
    parsed = DocxParser().parse(guide_docx(), LIMIT)

    assert_sections_index_text(parsed)
    assert parsed.title == "Guide des démarches"
    assert parsed.pages is None
    assert [section.heading for section in parsed.sections] == [
        "Guide des démarches",
        "Demander une aide",
        "Contester une décision",
    ]
    assert section_texts(parsed)[1] == (
        "Demander une aide\n\n"
        "Remplissez le formulaire. Joignez un justificatif de domicile.\n\n"
        "Démarche | Délai\nLogement | 15 | jours\nFamille | 30 | jours"
    )
    assert section_texts(parsed)[2] == "Contester une décision\n\nUn recours est possible pendant deux mois."


def test_a_word_document_without_text_is_empty() -> None:
    document = docx.Document()
    document.add_paragraph("   ")

    assert rejected(DocxParser(), docx_bytes(document)).code == "empty_document"


def test_damaged_word_documents_are_refused_as_corrupt() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("readme.txt", "not a Word document")

    for data in (guide_docx()[:500], b"PK\x03\x04" + b"\x00garbage" * 40, archive.getvalue()):
        assert rejected(DocxParser(), data).code == "corrupt_document"


def test_a_password_protected_word_document_is_refused_as_encrypted() -> None:
    # What Word writes for a protected file: an OLE compound file holding an EncryptedPackage stream.
    ole = OLE_SIGNATURE + bytes(504) + "EncryptedPackage".encode("utf-16-le") + bytes(64)

    assert rejected(DocxParser(), ole).code == "encrypted_document"
    legacy_doc = OLE_SIGNATURE + bytes(504) + "WordDocument".encode("utf-16-le")
    assert rejected(DocxParser(), legacy_doc).code == "unsupported_media_type"


# --- HTML ----------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="fr"><head><title>Aides au logement | Service public</title>
<style>body { color: red }</style><script>var tracking = "do not index";</script></head>
<body>
<header><a href="/">Service public</a> <form><button>Rechercher</button></form></header>
<nav><ul><li>Accueil</li><li>Particuliers</li></ul></nav>
<main><article>
  <header><h1>Aides au   logement</h1><p>Mis à jour le 3 mars</p></header>
  <p>Vous pouvez demander une aide &amp; un accompagnement.<br>  Le délai est de 15&nbsp;jours.</p>
  <div>Texte <b>en gras</b> dans un bloc<p>puis un paragraphe</p>et la suite.</div>
  <h2>Pièces <em>à fournir</em></h2>
  <ul><li>Justificatif de domicile</li><li>Avis d'imposition</li></ul>
  <table><tr><th>Aide</th><th>Montant</th></tr><tr><td>APL</td><td>250 €</td></tr></table>
  <pre>  article 1
    alinéa 2</pre>
  <p hidden>texte caché</p><noscript>Activez JavaScript</noscript>
  <script>document.write("injected")</script>
</article></main>
<footer>Mentions légales</footer>
</body></html>"""


def test_a_web_page_keeps_its_content_and_drops_the_noise() -> None:
    parsed = HtmlParser().parse(PAGE.encode(), LIMIT)

    assert_sections_index_text(parsed)
    assert parsed.title == "Aides au logement | Service public"
    for noise in ("color: red", "tracking", "Rechercher", "Accueil", "Mentions légales", "caché", "injected"):
        assert noise not in parsed.text
    assert "JavaScript" not in parsed.text
    assert [section.heading for section in parsed.sections] == ["Aides au logement", "Pièces à fournir"]
    assert section_texts(parsed)[0] == (
        "Aides au logement\n\nMis à jour le 3 mars\n\n"
        "Vous pouvez demander une aide & un accompagnement.\nLe délai est de 15\u00a0jours.\n\n"
        "Texte en gras dans un bloc\n\npuis un paragraphe\n\net la suite."
    )
    assert section_texts(parsed)[1] == (
        "Pièces à fournir\n\nJustificatif de domicile\n\nAvis d'imposition\n\n"
        "Aide | Montant\n\nAPL | 250 €\n\narticle 1\n    alinéa 2"
    )


def test_a_web_page_in_windows_1252_is_decoded_by_its_meta_charset() -> None:
    page = '<html><head><meta charset="windows-1252"><title>Été</title></head><body><p>Coût : 5 €</p>'

    parsed = HtmlParser().parse(page.encode("cp1252"), LIMIT)

    assert parsed.title == "Été"
    assert parsed.text == "Coût : 5 €"


def test_deeply_nested_html_does_not_exhaust_the_stack() -> None:
    page = "<div>" * 20_000 + "profond" + "</div>" * 20_000

    assert HtmlParser().parse(page.encode(), LIMIT).text == "profond"


def test_a_web_page_of_only_scripts_is_empty() -> None:
    page = b"<html><head><script>x()</script></head><body><nav>menu</nav></body></html>"

    assert rejected(HtmlParser(), page).code == "empty_document"


# --- Markdown ------------------------------------------------------------------------------------------

NOTE = """---
title: "Note de service"
author: DNUM
---
# Télétravail

Les agents peuvent *télétravailler* jusqu'à **trois jours** par semaine, voir [la charte](https://x.fr).
Le formulaire `TT-1` est à remplir.

## Matériel

| Équipement | Fourni |
|---|---|
| Ordinateur | oui |

```
code de démonstration
```

<div>Un bloc <b>HTML</b></div>

- premier point
- second point
"""


def test_markdown_keeps_headings_and_drops_markup() -> None:
    parsed = MarkdownParser().parse(NOTE.encode(), LIMIT)

    assert_sections_index_text(parsed)
    assert parsed.title == "Note de service"
    assert "author" not in parsed.text
    assert [section.heading for section in parsed.sections] == ["Télétravail", "Matériel"]
    assert section_texts(parsed) == [
        "Télétravail\n\nLes agents peuvent télétravailler jusqu'à trois jours par semaine, voir la charte.\n"
        "Le formulaire TT-1 est à remplir.",
        "Matériel\n\nÉquipement | Fourni\nOrdinateur | oui\n\ncode de démonstration\n\nUn bloc HTML\n\n"
        "premier point\n\nsecond point",
    ]


def test_markdown_without_front_matter_takes_its_first_heading_as_title() -> None:
    parsed = MarkdownParser().parse(b"Intro line.\n\n# Main title\n\nBody.\n\n# Second\n\nMore.", LIMIT)

    assert parsed.title == "Main title"
    assert [section.heading for section in parsed.sections] == ["", "Main title", "Second"]


def test_a_leading_thematic_break_is_not_taken_for_front_matter() -> None:
    parsed = MarkdownParser().parse(b"---\n\nFirst paragraph.\n\n---\n\nSecond paragraph.\n", LIMIT)

    assert parsed.text == "First paragraph.\n\nSecond paragraph."


# --- plain text ----------------------------------------------------------------------------------------

SAMPLE = "Grüße aus Köln. Été à Paris : 5 € « payés ». Œuvre, naïve, Ærø."


@pytest.mark.parametrize(
    "data",
    [
        SAMPLE.encode("utf-8"),
        codecs.BOM_UTF8 + SAMPLE.encode("utf-8"),
        SAMPLE.encode("utf-16"),  # with its byte-order mark
        codecs.BOM_UTF16_BE + SAMPLE.encode("utf-16-be"),
        SAMPLE.encode("utf-16-le"),  # without a mark, as some Windows tools write it
        SAMPLE.encode("cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-be", "utf-16-le-unmarked", "cp1252"],
)
def test_text_is_decoded_from_its_encoding(data: bytes) -> None:
    parsed = TextParser().parse(data, LIMIT)

    assert parsed.text == SAMPLE
    assert parsed.sections[0].heading == ""
    assert (parsed.sections[0].start, parsed.sections[0].end) == (0, len(SAMPLE))


def test_text_in_no_known_encoding_still_decodes() -> None:
    # 0x81 and 0x8d are undefined in Windows-1252 and invalid in UTF-8: Latin-1 takes them.
    parsed = TextParser().parse(b"caf\xe9 \x81\x8d fin", LIMIT)

    assert parsed.text.startswith("café")
    assert parsed.text.endswith("fin")


def test_text_is_normalised() -> None:
    raw = "  Ligne un\r\nligne\x00 deux\t \r\n\r\n\r\n\r\n\x0cE\u0301te\u0301\u00ad \u200bfin\x07  \n"

    parsed = TextParser().parse(raw.encode(), LIMIT)

    assert parsed.text == "Ligne un\nligne deux\n\nÉté \u200bfin"


def test_binary_data_declared_as_text_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

    assert rejected(TextParser(), png).code == "unsupported_media_type"


def test_normalisation_is_stable() -> None:
    messy = "a\r\nb\rc\x0b\x85d\u2028e\u2029f\n\n\n\n g \t\n"

    once = normalize_text(messy)

    assert once == "a\nb\nc\n\nd\ne\nf\n\n g"
    assert normalize_text(once) == once


# --- every parser --------------------------------------------------------------------------------------


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.name)
@pytest.mark.parametrize("data", [b"", b"   \n\t  \r\n"], ids=["empty", "whitespace"])
def test_an_empty_file_is_refused_as_empty(parser: Parser, data: bytes) -> None:
    assert rejected(parser, data).code == "empty_document"


LONG_FILES: list[tuple[Parser, bytes]] = [
    (PdfParser(), pdf_bytes(PAGE_TEXTS)),
    (DocxParser(), guide_docx()),
    (HtmlParser(), PAGE.encode()),
    (MarkdownParser(), NOTE.encode()),
    (TextParser(), ("Une phrase de plus. " * 200).encode()),
]


@pytest.mark.parametrize(("parser", "data"), LONG_FILES, ids=[parser.name for parser, _ in LONG_FILES])
def test_text_over_the_limit_is_refused_naming_the_limit(parser: Parser, data: bytes) -> None:
    error = rejected(parser, data, max_chars=100)

    assert error.code == "text_too_long"
    assert "100 characters" in error.message
    full: ParsedDocument = parser.parse(data, LIMIT)
    assert parser.parse(data, len(full.text)).text == full.text, "the limit itself is allowed"


# --- choosing the parser -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "media_type", "data", "expected"),
    [
        ("report", "application/pdf", b"", PdfParser),
        ("x.bin", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"", DocxParser),
        ("page", "text/html; charset=utf-8", b"", HtmlParser),
        ("Note.MD", "text/plain", b"# Titre", MarkdownParser),
        ("notes.markdown", None, b"", MarkdownParser),
        ("page.htm", "application/octet-stream", b"", HtmlParser),
        ("readme.txt", None, b"hello", TextParser),
        ("C:\\Users\\agent\\rapport.PDF", None, b"", PdfParser),
        ("", None, b"%PDF-1.7\n...", PdfParser),
        ("", "application/octet-stream", b"\xef\xbb\xbf  <!DOCTYPE html><p>x</p>", HtmlParser),
        ("upload", None, b"<HTML><body>x</body></HTML>", HtmlParser),
        ("", None, b"Du texte, tout simplement.", TextParser),
        ("", None, "Du texte".encode("utf-16"), TextParser),
        ("", "text/plain", b"plain", TextParser),
    ],
)
def test_the_parser_is_chosen_by_type_then_extension_then_content(
    filename: str, media_type: str | None, data: bytes, expected: type
) -> None:
    assert isinstance(parser_for(filename, media_type, data), expected)


def test_a_word_document_is_recognised_by_its_content() -> None:
    assert isinstance(parser_for("", None, guide_docx()), DocxParser)


@pytest.mark.parametrize(
    ("filename", "media_type"), [("photo.png", "image/png"), ("", None), ("scan.tiff", None)]
)
def test_an_unsupported_file_is_refused_listing_the_supported_types(
    filename: str, media_type: str | None
) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))

    with pytest.raises(DocumentRejected) as caught:
        parser_for(filename, media_type, png)

    assert caught.value.code == "unsupported_media_type"
    assert SUPPORTED in caught.value.message
    for name in ("PDF", ".docx", "HTML", "Markdown", ".txt"):
        assert name in SUPPORTED
