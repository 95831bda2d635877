"""Subjects as keyed hashes: one person however their identifier is written, never their value, and a
key of its own."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from souverain.governance.audit.events import ContentHasher
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.canonical import canonical_name, canonical_number, canonical_phone
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.recognizers.email import EmailRecognizer
from souverain.privacy.redaction import ERASED, Redactor
from souverain.privacy.subjects import SubjectHasher, Subjects, strings_in

KEY = bytes(range(32))


class IbanLike:
    """A test-only recognizer: Luxembourg IBANs written with or without spaces (no checksum here)."""

    name = "iban-test"
    types = frozenset({EntityType.IBAN})
    _pattern = re.compile(r"\bLU\d{2}(?: ?\d{4}){4}\b")

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        for match in self._pattern.finditer(text):
            yield Entity(EntityType.IBAN, match.start(), match.end(), 0.9, self.name)


class Birthdays:
    name = "birthdays-test"
    types = frozenset({EntityType.DATE_OF_BIRTH})

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        for match in re.finditer(r"\d{2}/\d{2}/\d{4}", text):
            yield Entity(EntityType.DATE_OF_BIRTH, match.start(), match.end(), 0.9, self.name)


@pytest.fixture
def subjects() -> Subjects:
    return Subjects(Analyzer([EmailRecognizer(), IbanLike(), Birthdays()]), SubjectHasher(KEY))


def test_an_address_written_another_way_is_the_same_subject(subjects: Subjects) -> None:
    [mention] = subjects.mentions("Écrire à Marie.Schmit@Example.LU avant lundi.")
    assert mention.subject in subjects.of_value("marie.schmit@example.lu")
    assert mention.subject in subjects.of_value("  MARIE.SCHMIT@EXAMPLE.LU ")
    assert mention.subject not in subjects.of_value("jean.weber@example.lu")


def test_an_iban_with_or_without_spaces_is_the_same_subject(subjects: Subjects) -> None:
    spaced = subjects.mentions("Virement sur LU28 0019 4006 4475 0000 reçu.")
    joined = subjects.mentions("IBAN: LU280019400644750000")
    assert spaced[0].subject == joined[0].subject
    assert spaced[0].subject in subjects.of_value("LU28 0019 4006 4475 0000")
    assert spaced[0].subject in subjects.of_value("lu28-0019-4006-4475-0000")  # not recognised: generic


def test_a_date_of_birth_alone_names_nobody(subjects: Subjects) -> None:
    assert subjects.mentions("Né le 12/03/1984.") == []


def test_the_hash_is_keyed_apart_from_the_audit_log() -> None:
    value = "marie.schmit@example.lu"
    subject = SubjectHasher(KEY)(value)
    assert subject != ContentHasher(KEY)(value.encode())
    assert subject != SubjectHasher(bytes(32))(value)
    assert value not in subject and len(subject) == 64


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("LU28 0019 4006 4475 0000", "LU280019400644750000"),
        ("1984.03.12-123.45", "19840312123 45".replace(" ", "")),
        ("\uff41\uff42\uff11\uff12", "AB12"),  # full-width "ab12"
    ],
)
def test_numbers_lose_their_separators(written: str, canonical: str) -> None:
    assert canonical_number(written) == canonical


def test_phone_numbers_become_e164() -> None:
    assert canonical_phone("+352 621 123 456") == "+352621123456"
    assert canonical_phone("00352 621-123-456") == "+352621123456"
    assert canonical_phone("621 123 456", "LU") == "+352621123456"


def test_names_are_folded() -> None:
    assert canonical_name("  MÜLLER\u00a0 Jean-Pierre ") == "muller jean-pierre"


def test_redaction_replaces_the_subject_only(subjects: Subjects) -> None:
    text = "De marie.schmit@example.lu à jean.weber@example.lu, copie MARIE.SCHMIT@example.lu."
    redactor = Redactor(subjects, subjects.of_value("marie.schmit@example.lu"), "marie.schmit@example.lu")
    assert redactor.text(text) == f"De {ERASED} à jean.weber@example.lu, copie {ERASED}."
    assert redactor.value({"to": ["marie.schmit@example.lu"], "n": 1}) == {"to": [ERASED], "n": 1}


def test_strings_are_found_anywhere_in_a_record() -> None:
    record = {"a": ["x", {"b": "y"}], "c": 3, "d": None}
    assert sorted(strings_in(record)) == ["a", "b", "c", "d", "x", "y"]
