"""Person names: spaCy's pipelines for French and English, a pipeline from a folder for another language,
the heuristic fallback, and texts of every size."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

import pytest

from souverain.config_privacy import PrivacyConfig
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import EntityType
from souverain.privacy.recognizers import build_analyzer
from souverain.privacy.recognizers.names import NameRecognizer, _pieces

spacy = pytest.importorskip("spacy")


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    # One analyzer for the module: each pipeline loads once, on first use, as in the server.
    return build_analyzer(PrivacyConfig())


def names(analyzer: Analyzer, text: str, language: str | None) -> list[str]:
    return [text[e.start : e.end] for e in analyzer.analyze(text, language, types={EntityType.PERSON})]


def test_french_names_through_spacy_with_exact_spans(analyzer: Analyzer) -> None:
    text = "Hier, Jean Dupont a écrit à Marie Curie au sujet de sa demande de logement."
    found = analyzer.analyze(text, "fr", types={EntityType.PERSON})
    assert [(e.start, e.end) for e in found] == [(6, 17), (28, 39)]
    assert {e.recognizer for e in found} == {"names"}
    assert all(e.score == pytest.approx(0.85) for e in found)


def test_english_names_through_spacy_without_trailing_punctuation(analyzer: Analyzer) -> None:
    text = "The letter was signed by John Smith. Later, Barack Obama replied to Angela Merkel."
    assert names(analyzer, text, "en") == ["John Smith", "Barack Obama", "Angela Merkel"]


def test_the_language_is_detected_when_not_given(analyzer: Analyzer) -> None:
    text = (
        "Madame la maire, je vous écris au nom de Jean Dupont, qui habite dans votre commune depuis dix ans."
    )
    assert "Jean Dupont" in names(analyzer, text, None)


def test_a_language_without_pipeline_falls_back_to_the_heuristic(analyzer: Analyzer) -> None:
    found = analyzer.analyze("Sehr geehrter Herr Müller, vielen Dank.", "de")
    assert [(e.type, e.start, e.end, e.recognizer) for e in found] == [
        (EntityType.PERSON, 19, 25, "names.heuristic")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sehr geehrter Herr Müller, vielen Dank.", ["Müller"]),
        ("Bonjour Mme Anne-Marie Dubois-Leclerc.", ["Anne-Marie Dubois-Leclerc"]),
        ("Dear Dr. O'Brien and Ms Jane van der Berg:", ["O'Brien", "Jane van der Berg"]),
        ("Estimada Sra. García, el Sr . J . Södergren llamó.", ["García", "J . Södergren"]),
        (
            "Sig.ra Rossi, Dhr. de Vries, Pani Kowalska, Frau Schmidt",
            ["Rossi", "de Vries", "Kowalska", "Schmidt"],
        ),
        ("My name is Paul Martin and je m'appelle Luc.", ["Paul Martin", "Luc"]),
        ("Herr schreibt, Drive on, Mr. smith, Pan tadeusz", []),
    ],
)
def test_heuristic_finds_names_after_titles_and_cues(text: str, expected: list[str]) -> None:
    heuristic = build_analyzer(PrivacyConfig(names="heuristic"))
    assert names(heuristic, text, "en") == expected


def test_names_off_finds_no_person() -> None:
    off = build_analyzer(PrivacyConfig(names="off"))
    assert names(off, "Herr Müller und Jean Dupont", "fr") == []


def test_a_pipeline_folder_serves_another_language(tmp_path: Path) -> None:
    folder = tmp_path / "operator-model"
    spacy.load("fr_core_news_sm").to_disk(folder)
    configured = build_analyzer(PrivacyConfig(name_models={"it": str(folder)}))
    found = configured.analyze("Hier, Jean Dupont a écrit à la mairie.", "it")
    assert [(e.start, e.end, e.recognizer) for e in found] == [(6, 17, "names")]


def test_a_missing_pipeline_falls_back_to_the_heuristic(tmp_path: Path) -> None:
    configured = build_analyzer(PrivacyConfig(name_models={"fr": str(tmp_path / "absent"), "en": "no_such"}))
    found = configured.analyze("Bonjour M. Dupont, Jean Martin est là.", "fr")
    assert [(e.start, e.end, e.recognizer) for e in found] == [(11, 17, "names.heuristic")]


def test_the_english_pipeline_falls_back_to_its_pypi_mirror() -> None:
    recognizer = NameRecognizer({"en": "en_core_web_sm"})
    pipeline = recognizer.pipeline("en")
    assert pipeline is not None
    assert "ner" in pipeline.pipe_names
    assert "parser" not in [name for name, _ in pipeline.pipeline]  # only NER runs


def test_a_pipeline_loads_once_under_concurrent_first_use() -> None:
    recognizer = NameRecognizer({"fr": "fr_core_news_sm"})
    loaded: list[object] = []
    threads = [threading.Thread(target=lambda: loaded.append(recognizer.pipeline("fr"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loaded) == 4 and all(pipeline is loaded[0] for pipeline in loaded)


def test_long_texts_go_through_spacy_in_pieces_with_offsets_kept(analyzer: Analyzer) -> None:
    sentence = "Hier, Jean Dupont a écrit à la mairie au sujet de sa demande de logement social.\n"
    text = sentence * 3_000  # about 250,000 characters: three pieces
    found = names(analyzer, text, "fr")
    assert found.count("Jean Dupont") == 3_000


def test_pieces_cover_the_text_at_spaces_and_cut_unbroken_text() -> None:
    text = ("word " * 50_000) + "x" * 250_000
    pieces = list(_pieces(text, 100_000))
    assert pieces[0][0] == 0 and pieces[-1][1] == len(text)
    assert all(end == next_start for (_, end), (next_start, _) in pairwise(pieces))
    assert all(end - start <= 100_000 for start, end in pieces)
    assert text[pieces[0][1] - 1] == " "


@pytest.mark.parametrize(
    "text",
    ["", " ", "\u200b", "M.", "Herr", "Mme " + "A" * 200],
    ids=["empty", "space", "zwsp", "M", "Herr", "long"],
)
def test_empty_and_degenerate_texts(analyzer: Analyzer, text: str) -> None:
    analyzer.analyze(text, "fr")
    analyzer.analyze(text, "de")


def test_ten_megabytes_with_the_heuristic() -> None:
    heuristic = build_analyzer(PrivacyConfig(names="heuristic"))
    text = ("Sehr geehrter Herr Müller, wir haben Ihren Brief vom 3. Mai erhalten. " * 140_000)[:10_000_000]
    found = heuristic.analyze(text, "de")
    assert len(found) == 140_000 - 1 or len(found) == 140_000
