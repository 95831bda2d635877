"""Chunking and language detection: whole sentences in every language, chunks that never cross a heading
or a page, spans that point exactly at the document's text, and linear time on large documents."""

from __future__ import annotations

import itertools
import random

import pytest

from souverain.knowledge.chunking import ChunkDraft, chunk_document, detect_language
from souverain.knowledge.parsing.base import ParsedDocument, Section
from souverain.knowledge.parsing.markdown import MarkdownParser
from souverain.knowledge.parsing.pdf import PdfParser
from souverain.knowledge.parsing.text import TextParser

from .documents import PAGE_TEXTS, pdf_bytes, with_outline

SENTENCES = {
    "de": [
        "Dr. Müller leitet seit 2019 das Referat für digitale Verwaltung in Berlin.",
        "Die Anträge werden z. B. online gestellt und innerhalb von zwei Wochen geprüft.",
        "Ist der Bescheid fehlerhaft, kann man Widerspruch einlegen!",
        "Weitere Informationen gibt es beim Bürgeramt der Stadt.",
    ],
    "fr": [
        "Les pièces (p. ex. un justificatif de domicile) sont requises pour toute demande.",
        "Les demandes sont traitées en deux semaines, sauf pendant l'été.",
        "Où faut-il déposer le formulaire de demande de logement ?",
        "Le dossier complet doit être envoyé avant le 1er mars.",
    ],
    "es": [
        "El Sr. García coordina la oficina de atención ciudadana de Madrid.",
        "¿Cuánto tiempo tarda la administración en responder a una solicitud?",
        "Las solicitudes se tramitan en un plazo de quince días hábiles.",
        "La Dra. López firmó la resolución definitiva ayer por la tarde.",
    ],
    "en": [
        "Mr. Smith heads the digital services unit of the city council.",
        "Applications are processed within two weeks, e.g. for housing benefit.",
        "Can a decision be appealed after the deadline has passed?",
        "The agency published its annual report on public health today.",
    ],
}

PARAGRAPHS = {
    "en": "The ministry of health publishes an annual report on the state of public health. It describes "
    "hospital admissions, vaccination coverage and the waiting times for specialist appointments.",
    "fr": "Le ministère de la santé publie chaque année un rapport sur l'état de santé de la population. Il "
    "décrit les hospitalisations, la couverture vaccinale et les délais d'attente chez les spécialistes.",
    "de": "Das Gesundheitsministerium veröffentlicht jedes Jahr einen Bericht über den Gesundheitszustand "
    "der Bevölkerung. Er beschreibt Krankenhausaufenthalte, Impfquoten und Wartezeiten bei Fachärzten.",
    "es": "El ministerio de sanidad publica cada año un informe sobre el estado de salud de la población. "
    "Describe los ingresos hospitalarios, la cobertura de vacunación y los tiempos de espera.",
    "it": "Il ministero della salute pubblica ogni anno una relazione sullo stato di salute della "
    "popolazione. Descrive i ricoveri ospedalieri, la copertura vaccinale e i tempi di attesa.",
    "nl": "Het ministerie van volksgezondheid publiceert elk jaar een verslag over de gezondheid van de "
    "bevolking. Het beschrijft ziekenhuisopnames, vaccinatiegraad en wachttijden bij specialisten.",
    "pl": "Ministerstwo zdrowia publikuje co roku raport o stanie zdrowia ludności. Opisuje on "
    "hospitalizacje, poziom zaszczepienia oraz czas oczekiwania na wizyty u specjalistów.",
}


def document(text: str, sections: list[Section] | None = None) -> ParsedDocument:
    return ParsedDocument(text, tuple(sections or [Section(0, len(text), None, "")]), None, None)


def trimmed_section(text: str, start: int, end: int, page: int) -> Section:
    """A section as the parsers make them: never starting or ending on whitespace."""
    piece = text[start:end]
    return Section(start + len(piece) - len(piece.lstrip()), end - len(piece) + len(piece.rstrip()), page, "")


def assert_exact(parsed: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    """Each chunk is its span of the text, trimmed; chunks are in order and each lies in one section."""
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    previous_end = 0
    for chunk in chunks:
        assert chunk.text == parsed.text[chunk.start : chunk.end] == chunk.text.strip() != ""
        assert chunk.start >= previous_end
        previous_end = chunk.end
        home = [s for s in parsed.sections if s.start <= chunk.start and chunk.end <= s.end]
        assert len(home) == 1, f"chunk {chunk.ordinal} crosses a section boundary"
        assert (chunk.page, chunk.heading) == (home[0].page, home[0].heading)


def assert_covers(parsed: ParsedDocument, chunks: list[ChunkDraft]) -> None:
    """Nothing is lost: the chunks hold every non-space character of the document, once."""
    assert "".join("".join(chunk.text.split()) for chunk in chunks) == "".join(parsed.text.split())


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_chunks_end_at_sentence_boundaries_in_each_language(language: str) -> None:
    sentences = SENTENCES[language]
    parsed = document(" ".join(sentences))
    # A target no two of these sentences fit in together: each chunk must be exactly one sentence.
    target = max(map(len, sentences))

    chunks = chunk_document(parsed, language, target)

    assert_exact(parsed, chunks)
    assert [chunk.text for chunk in chunks] == sentences


def test_sentences_are_packed_up_to_the_target() -> None:
    sentences = SENTENCES["en"]
    parsed = document(" ".join(sentences))

    chunks = chunk_document(parsed, "en", len(sentences[0]) + len(sentences[1]) + 1)

    assert [chunk.text for chunk in chunks] == [" ".join(sentences[:2]), " ".join(sentences[2:])]


def test_an_unknown_language_falls_back_to_english_rules() -> None:
    parsed = document(" ".join(SENTENCES["en"]))

    assert [chunk.text for chunk in chunk_document(parsed, "", 70)] == SENTENCES["en"]


def test_pages_and_headings_land_on_their_chunks() -> None:
    data = with_outline(pdf_bytes(PAGE_TEXTS), [("Synthèse", 0, False), ("Bericht", 2, False)])
    parsed = PdfParser().parse(data, 1_000_000)

    chunks = chunk_document(parsed, "en", 70)

    assert_exact(parsed, chunks)
    assert_covers(parsed, chunks)
    located = [(chunk.page, chunk.heading, chunk.text) for chunk in chunks]
    assert (1, "Synthèse", "Hospitals reported fewer admissions than last year.") in located
    assert (2, "Synthèse", "Où se trouve-t-il ? À la préfecture, évidemment.") in located
    assert (3, "Bericht", "Größere Städte meldeten weniger Fälle als im Vorjahr.") in located
    assert {chunk.page for chunk in chunks} == {1, 2, 3}


def test_a_chunk_never_crosses_a_heading_and_a_heading_stays_with_its_text() -> None:
    markdown = (
        "# Congés\n\nChaque agent a droit à vingt-cinq jours. Les demandes passent par le portail.\n\n"
        "## Report\n\nLes jours non pris sont reportables jusqu'au 31 mars.\n\n"
        "## Compte épargne\n\nAu-delà, ils alimentent le compte épargne-temps."
    )
    parsed = MarkdownParser().parse(markdown.encode(), 1_000_000)

    chunks = chunk_document(parsed, "fr", 1000)

    assert_exact(parsed, chunks)
    assert [(chunk.heading, chunk.text.split("\n\n")[0]) for chunk in chunks] == [
        ("Congés", "Congés"),
        ("Report", "Report"),
        ("Compte épargne", "Compte épargne"),
    ]


def test_a_sentence_longer_than_the_target_is_cut_between_words() -> None:
    words = [f"mot{index}" for index in range(400)]
    parsed = document(" ".join(words) + ".")

    chunks = chunk_document(parsed, "fr", 100)

    assert_exact(parsed, chunks)
    assert_covers(parsed, chunks)
    assert all(len(chunk.text) <= 100 for chunk in chunks[:-1])
    assert all(len(chunk.text) <= 150 for chunk in chunks)
    assert [word for chunk in chunks for word in chunk.text.rstrip(".").split()] == words


def test_a_long_table_is_cut_at_line_ends() -> None:
    rows = [f"Commune {index} | {index * 17} habitants | code {index:05d}" for index in range(60)]
    parsed = document("\n".join(rows))

    chunks = chunk_document(parsed, "fr", 300)

    assert_exact(parsed, chunks)
    assert len(chunks) > 1
    for chunk in chunks:
        assert set(chunk.text.split("\n")) <= set(rows), "a row was cut in the middle"


def test_an_unbroken_token_is_cut_at_the_target() -> None:
    parsed = document("x" * 240)

    chunks = chunk_document(parsed, "en", 100)

    assert [len(chunk.text) for chunk in chunks] == [100, 140]  # the 40 left over join the previous piece


def test_a_small_last_piece_joins_the_previous_chunk_of_its_section() -> None:
    long_sentence = "This sentence is exactly long enough to fill most of one chunk by itself alone."
    tail = "Short end."
    parsed = document(f"{long_sentence} {long_sentence} {tail}")

    chunks = chunk_document(parsed, "en", len(long_sentence) + 5)

    assert [chunk.text for chunk in chunks] == [long_sentence, f"{long_sentence} {tail}"]


def test_a_last_piece_of_fair_size_stays_a_chunk_of_its_own() -> None:
    sentence = "Every sentence in this paragraph has very nearly the same length as the others."
    parsed = document(f"{sentence} {sentence} {sentence}")

    chunks = chunk_document(parsed, "en", len(sentence) * 2 + 1)

    assert [chunk.text for chunk in chunks] == [f"{sentence} {sentence}", sentence]


def test_text_that_crashed_the_sentence_splitter_is_chunked() -> None:
    # sentencex 1.0 panics on a capital, a non-ASCII space and a period ("A\u00a0."); the space is kept.
    text = "Voir l'annexe A\u00a0. Elle précise les délais.\u202fZ\u2009. Fin du texte."

    chunks = chunk_document(document(text), "fr", 1000)

    assert [chunk.text for chunk in chunks] == [text]


def test_random_documents_keep_every_invariant() -> None:
    generator = random.Random(7)
    words = ["mot", "Dr.", "z. B.", "é", "A", "1.", "«", "»"]
    alphabet = [*words, ".", "!", "?", " ", " ", "\n", "\n\n", "\u00a0"]
    for _ in range(200):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(1, 300))).strip() or "x"
        cuts = sorted({0, len(text), *(generator.randint(0, len(text)) for _ in range(3))})
        sections = [
            trimmed_section(text, start, end, page)
            for page, (start, end) in enumerate(itertools.pairwise(cuts), 1)
            if text[start:end].strip()
        ]
        parsed = document(text, sections)

        chunks = chunk_document(parsed, generator.choice(["de", "fr", "en", ""]), generator.randint(5, 80))

        assert_exact(parsed, chunks)
        assert_covers(parsed, chunks)


def test_two_megabytes_of_text_are_chunked() -> None:
    generator = random.Random(1)
    sentences = [sentence for sentences in SENTENCES.values() for sentence in sentences]
    pieces: list[str] = []
    size = 0
    while size < 2_000_000:
        piece = generator.choice(sentences) + generator.choice([" ", " ", " ", "\n", "\n\n"])
        pieces.append(piece)
        size += len(piece)
    parsed = TextParser().parse("".join(pieces).encode(), 4_000_000)

    chunks = chunk_document(parsed, detect_language(parsed.text), 1000)

    assert_exact(parsed, chunks)
    assert_covers(parsed, chunks)
    assert all(len(chunk.text) <= 1000 for chunk in chunks)
    assert len(chunks) > len(parsed.text) // 1000


@pytest.mark.parametrize("language", sorted(PARAGRAPHS))
def test_the_language_of_a_paragraph_is_detected(language: str) -> None:
    assert detect_language(PARAGRAPHS[language]) == language


def test_language_detection_samples_long_texts() -> None:
    text = " ".join([PARAGRAPHS["de"]] * 2000)

    assert detect_language(text) == "de"


@pytest.mark.parametrize("text", ["", "ok", "12 345,00 €", "—— 42 ——", "Table 1"])
def test_language_is_unknown_for_text_too_short_or_without_words(text: str) -> None:
    assert detect_language(text) == ""


def test_the_target_must_be_positive() -> None:
    with pytest.raises(ValueError, match="target_chars"):
        chunk_document(document("Un texte."), "fr", 0)
