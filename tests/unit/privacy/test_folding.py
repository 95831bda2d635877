"""Folding: recognizers match what a person reads; spans still cover exactly what the caller sent."""

from __future__ import annotations

from souverain.privacy.folding import fold


def test_plain_text_is_returned_as_it_is() -> None:
    folded = fold("IBAN LU28 0019 4006 4475 0000")
    assert folded.text == "IBAN LU28 0019 4006 4475 0000"
    assert folded.span(5, 9) == (5, 9)


def test_full_width_digits_odd_spaces_and_dashes_become_ascii() -> None:
    folded = fold("\uff11\uff12\u00a0\u2013\u202f\uff21")
    assert folded.text == "12 - A"
    assert len(folded.text) == 6  # one character for one: offsets do not move


def test_invisible_characters_are_removed_and_spans_map_back_over_them() -> None:
    text = "x LU28\u200b 00\u200e19\u2066\u2069 40 y"
    folded = fold(text)
    assert folded.text == "x LU28 0019 40 y"
    start = folded.text.index("LU28")
    end = folded.text.index(" y")
    original_start, original_end = folded.span(start, end)
    # The span starts at the first visible character and covers the invisible ones inside it.
    assert text[original_start:original_end] == "LU28\u200b 00\u200e19\u2066\u2069 40"
    assert text[folded.span(end + 1, end + 2)[0]] == "y"


def test_invisible_characters_at_the_start_shift_every_offset() -> None:
    text = "\ufeff\u200f\u200fab"
    folded = fold(text)
    assert folded.text == "ab"
    assert folded.span(0, 2) == (3, 5)


def test_an_empty_text_folds_to_an_empty_text() -> None:
    assert fold("").text == ""
