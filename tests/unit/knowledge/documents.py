"""Real files for the parsing and chunking tests, built the way users' tools build them: PDFs with
reportlab (and pypdf for outlines and passwords), Word documents with python-docx."""

from __future__ import annotations

import io
from collections.abc import Sequence

import docx
from docx.document import Document
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

from souverain.knowledge.parsing.base import ParsedDocument

PAGE_TEXTS = (
    [
        "The ministry publishes its annual report on public health.",
        "Hospitals reported fewer admissions than last year.",
    ],
    [
        "Le ministère a publié un rapport détaillé sur la santé publique.",
        "Où se trouve-t-il ? À la préfecture, évidemment.",
    ],
    [
        "Die Behörde veröffentlicht jährlich einen Bericht über Gesundheit.",
        "Größere Städte meldeten weniger Fälle als im Vorjahr.",
    ],
)


def pdf_bytes(pages: Sequence[Sequence[str] | None], *, title: str | None = None) -> bytes:
    """One PDF page per item: lines of text, or None for a page holding only a picture (a scan)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    if title:
        pdf.setTitle(title)
    for lines in pages:
        if lines is None:
            picture = Image.new("RGB", (200, 100), "white")
            pdf.drawImage(ImageReader(picture), 72, 600, width=200, height=100)
        else:
            for number, line in enumerate(lines):
                pdf.drawString(72, 780 - 16 * number, line)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def with_outline(data: bytes, entries: Sequence[tuple[str, int, bool]]) -> bytes:
    """The PDF with bookmarks: (title, 0-based page index, nested under the previous top-level entry)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    parent = None
    for title, page, nested in entries:
        entry = writer.add_outline_item(title=title, page_number=page, parent=parent if nested else None)
        if not nested:
            parent = entry
    return _written(writer)


def encrypted(data: bytes, *, user_password: str, owner_password: str = "owner-secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=owner_password)
    return _written(writer)


def _written(writer: PdfWriter) -> bytes:
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def docx_bytes(document: Document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def guide_docx() -> bytes:
    """A Word document with a title, two headings, paragraphs, and a table with a merged cell."""
    document = docx.Document()
    document.core_properties.title = "Guide des démarches"
    document.add_heading("Guide des démarches", 0)
    document.add_paragraph("Ce guide présente les démarches en ligne.")
    document.add_heading("Demander une aide", 1)
    document.add_paragraph("Remplissez le formulaire. Joignez un justificatif de domicile.")
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).text = "Démarche"
    table.cell(0, 1).merge(table.cell(0, 2)).text = "Délai"
    for row, (name, days, unit) in enumerate((("Logement", "15", "jours"), ("Famille", "30", "jours")), 1):
        for column, value in enumerate((name, days, unit)):
            table.cell(row, column).text = value
    document.add_heading("Contester une décision", 2)
    document.add_paragraph("Un recours est possible pendant deux mois.")
    return docx_bytes(document)


def assert_sections_index_text(parsed: ParsedDocument) -> None:
    """Sections are ordered, disjoint, inside the text, and never start or end on whitespace."""
    position = 0
    for section in parsed.sections:
        assert position <= section.start < section.end <= len(parsed.text), section
        piece = parsed.text[section.start : section.end]
        assert piece == piece.strip(), section
        position = section.end
    assert parsed.text == parsed.text.strip()


def section_texts(parsed: ParsedDocument) -> list[str]:
    return [parsed.text[section.start : section.end] for section in parsed.sections]
