"""Placeholders: one per value within a conversation, numbered by first appearance, and put back into what
a model writes however its text is cut into pieces."""

from __future__ import annotations

import pytest

from souverain.privacy.canonical import canonical
from souverain.privacy.entities import EntityType
from souverain.privacy.pseudonyms import Pseudonyms

PERSON, IBAN, EMAIL = EntityType.PERSON, EntityType.IBAN, EntityType.EMAIL


def test_two_writings_of_one_value_are_one_value() -> None:
    assert canonical(PERSON, "Jean  DUPONT") == canonical(PERSON, "jean dupont")
    assert canonical(PERSON, "Jean\u00a0Dupont") == canonical(PERSON, "jean dupont")
    assert canonical(IBAN, "LU28 0019 4006 4475 0000") == canonical(IBAN, "lu28-0019-4006-4475-0000")
    assert canonical(PERSON, "Jean Dupont") != canonical(PERSON, "Jeanne Dupont")


def test_the_same_value_gets_the_same_placeholder_and_numbers_follow_first_appearance() -> None:
    pseudonyms = Pseudonyms()
    assert pseudonyms.placeholder(PERSON, "Jean Dupont") == "<PERSON_1>"
    assert pseudonyms.placeholder(IBAN, "LU28 0019 4006 4475 0000") == "<IBAN_1>"
    assert pseudonyms.placeholder(PERSON, "Marie Curie") == "<PERSON_2>"
    assert pseudonyms.placeholder(PERSON, "JEAN DUPONT") == "<PERSON_1>"
    assert pseudonyms.placeholder(IBAN, "LU280019400644750000") == "<IBAN_1>"


def test_restoring_gives_the_first_writing_back_and_leaves_invented_placeholders() -> None:
    pseudonyms = Pseudonyms()
    pseudonyms.placeholder(PERSON, "Jean Dupont")
    pseudonyms.placeholder(PERSON, "JEAN DUPONT")
    text = "<PERSON_1> et <PERSON_9> ; <PERSON> ; <IBAN_1> ; <PERSON_1"
    assert pseudonyms.restore(text) == "Jean Dupont et <PERSON_9> ; <PERSON> ; <IBAN_1> ; <PERSON_1"


def conversation() -> Pseudonyms:
    pseudonyms = Pseudonyms()
    pseudonyms.placeholder(PERSON, "Jean Dupont")
    pseudonyms.placeholder(EMAIL, "jean@example.lu")
    for number in range(2, 12):
        pseudonyms.placeholder(PERSON, f"Person {number}")
    return pseudonyms


ANSWER = "Bonjour <PERSON_1>, écrivez à <EMAIL_1> ; <PERSON_11> a < 3 dossiers, <PERSON_99> aucun.<PERSON_1>"
RESTORED = (
    "Bonjour Jean Dupont, écrivez à jean@example.lu ; Person 11 a < 3 dossiers, <PERSON_99> aucun.Jean Dupont"
)


@pytest.mark.parametrize("cut", range(len(ANSWER) + 1))
def test_a_placeholder_cut_anywhere_between_two_pieces_is_restored(cut: int) -> None:
    restorer = conversation().restorer()
    restored = restorer.feed(ANSWER[:cut]) + restorer.feed(ANSWER[cut:]) + restorer.flush()
    assert restored == RESTORED


def test_a_stream_of_single_characters_is_restored() -> None:
    restorer = conversation().restorer()
    assert "".join(restorer.feed(character) for character in ANSWER) + restorer.flush() == RESTORED


def test_only_a_possible_placeholder_is_held_back() -> None:
    restorer = conversation().restorer()
    assert restorer.feed("a < b, <p>, <IBAN_") == "a < b, <p>, <IBAN_"  # no IBAN in this conversation
    assert restorer.feed("Bonjour <PER") == "Bonjour "
    assert restorer.feed("SON_1") == ""  # <PERSON_12> is still possible
    assert restorer.feed("> !") == "Jean Dupont !"
    assert restorer.feed("fin <EM") == "fin "
    assert restorer.flush() == "<EM"  # the stream ended: what was held goes out as it is


def test_a_conversation_without_placeholders_holds_nothing_back() -> None:
    restorer = Pseudonyms().restorer()
    assert restorer.feed("<PERSON_") == "<PERSON_"
