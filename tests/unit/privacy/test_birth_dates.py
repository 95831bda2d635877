"""Dates of birth: a date counts only with a birth cue of an EU language next to it."""

from __future__ import annotations

import pytest

from souverain.privacy.recognizers.birth_dates import BirthDateRecognizer


def birth_dates(text: str) -> list[str]:
    return [text[e.start : e.end] for e in BirthDateRecognizer().find(text, None)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jean Dupont, né le 12/03/1985 à Lyon.", "12/03/1985"),
        ("Marie, née le 1er mars 1990, demeurant à Nantes.", "1er mars 1990"),
        ("John Smith, born on March 5, 1980, in Cork.", "March 5, 1980"),
        ("Date of birth: 1980-03-05.", "1980-03-05"),
        ("DOB 05.03.1980", "05.03.1980"),
        ("Geburtsdatum: 03.05.1970", "03.05.1970"),
        ("Er wurde am 3. Mai 1970 geboren.", "3. Mai 1970"),
        ("nacido el 12 de marzo de 1985 en Sevilla", "12 de marzo de 1985"),
        ("nato il 12/03/1985 a Roma", "12/03/1985"),
        ("geboren op 12-03-1985", "12-03-1985"),
        ("data urodzenia: 12.03.1985 r.", "12.03.1985"),
        ("syntymäaika 12.3.1985", "12.3.1985"),
        ("született 1985. 03. 12.", "1985. 03. 12"),
        ("data de nascimento: 12/03/1985", "12/03/1985"),
        ("född 1985-03-12", "1985-03-12"),
        ("ημερομηνία γέννησης 12/03/1985", "12/03/1985"),
        ("дата на раждане 12.03.1985", "12.03.1985"),
        ("NÉ LE 12/03/1985", "12/03/1985"),  # any case
        # "İ" lowers to two characters: the text is then lowered letter by letter, and the final sigma
        # of the Greek cue is lowered as a middle one.
        ("Name: İlker; ΗΜΕΡΟΜΗΝΊΑ ΓΈΝΝΗΣΗΣ: 12.03.1970", "12.03.1970"),
    ],
)
def test_dates_with_a_birth_cue(text: str, expected: str) -> None:
    assert birth_dates(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Rendez-vous le 12/03/2024 à la mairie.",  # a date, but nobody's birth
        "Meeting on March 5, 1980 was long.",
        "né le 31/02/1985",  # no such day
        "born on 12/03/85",  # two-digit years are too often something else
        "né à Lyon, ce qui est loin de tout, et bien plus tard, le 12/03/1985",  # too far from the cue
    ],
)
def test_dates_without_a_cue_or_impossible_are_not_birth_dates(text: str) -> None:
    assert birth_dates(text) == []


@pytest.mark.parametrize(
    "text",
    ["", "né " * 100_000, "born 1/1/1 " * 50_000, "12/03/1985 " * 100_000],
    ids=["empty", "cues", "cues-and-bad-dates", "dates"],
)
def test_degenerate_inputs(text: str) -> None:
    birth_dates(text)
