"""A tenant's policy over a conversation's texts, and the output policy over what the model writes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from souverain.config_privacy import PiiPolicy
from souverain.errors import PersonalDataBlocked, PersonalDataInOutput
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.policy import STREAM_WINDOW, OutputGuard, screen
from tests.unit.privacy.recognizers import analyzer

LETTER = (
    "Madame, je suis Jean Dupont (jean.dupont@example.lu). Répondez à JEAN  DUPONT, jean.dupont@example.lu."
)


def policy(**raw: object) -> PiiPolicy:
    return PiiPolicy.model_validate(raw)


def test_values_are_pseudonymised_consistently_across_messages() -> None:
    texts = [LETTER, "Et marie@example.fr ? Jean Dupont attend."]
    screened = screen(analyzer(), policy(default="pseudonymise"), texts)
    assert screened.texts == [
        "Madame, je suis <PERSON_1> (<EMAIL_1>). Répondez à <PERSON_1>, <EMAIL_1>.",
        "Et <EMAIL_2> ? <PERSON_1> attend.",
    ]
    assert screened.personal_data == ("EMAIL:pseudonymise", "PERSON:pseudonymise")
    assert screened.pseudonyms.restore("<PERSON_1>, <EMAIL_2>") == "Jean Dupont, marie@example.fr"


def test_the_same_conversation_with_one_more_turn_keeps_its_placeholders() -> None:
    turns = ["Écrire à marie@example.fr", "<answer>", "Et à jean.dupont@example.lu, puis marie@example.fr"]
    first = screen(analyzer(), policy(default="pseudonymise"), turns[:1])
    again = screen(
        analyzer(),
        policy(default="pseudonymise"),
        [*turns[:1], "C'est fait pour marie@example.fr.", turns[2]],
    )
    assert first.texts[0] == again.texts[0] == "Écrire à <EMAIL_1>"
    assert again.texts[1:] == ["C'est fait pour <EMAIL_1>.", "Et à <EMAIL_2>, puis <EMAIL_1>"]


def test_masking_names_the_type_only_and_allow_leaves_the_value() -> None:
    screened = screen(analyzer(), policy(default="allow", email="mask"), [LETTER])
    assert screened.texts == ["Madame, je suis Jean Dupont (<EMAIL>). Répondez à JEAN  DUPONT, <EMAIL>."]
    assert screened.personal_data == ("EMAIL:mask",)
    assert not screened.pseudonyms


def test_a_blocked_type_refuses_the_request_naming_types_never_values() -> None:
    with pytest.raises(PersonalDataBlocked) as raised:
        screen(analyzer(), policy(default="pseudonymise", email="block", person="block"), ["ok", LETTER])
    error = raised.value
    assert (error.status, error.code, error.types) == (403, "personal_data_blocked", ("EMAIL", "PERSON"))
    assert "EMAIL, PERSON" in error.message
    rendered = str(error.envelope())
    assert "Dupont" not in rendered and "example" not in rendered
    assert error.personal_data == ("EMAIL:block", "PERSON:block")


class Counting:
    """A recognizer that counts the texts it is given."""

    name = "counting"
    types = frozenset({EntityType.IBAN})

    def __init__(self) -> None:
        self.calls = 0

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        self.calls += 1
        return iter(())


def test_only_the_types_the_policy_acts_on_are_looked_for() -> None:
    counting = Counting()
    screened = screen(Analyzer([counting]), policy(default="allow", email="mask"), [LETTER])
    assert counting.calls == 0 and screened.texts == [LETTER]
    screen(Analyzer([counting]), policy(default="allow", output={"iban": "mask"}), [LETTER])
    assert counting.calls == 1  # the output policy needs to know which IBANs the input held


def test_an_inactive_policy_is_inactive() -> None:
    assert not policy().active
    assert policy(output={"default": "mask"}).active


# --- output ----------------------------------------------------------------------------------------------


def guard(seen_in: str = LETTER, **raw: object) -> OutputGuard:
    tenant = policy(**raw)
    screened = screen(analyzer(), tenant, [seen_in])
    found = OutputGuard.of(analyzer(), tenant, screened.seen)
    assert found is not None
    return found


def test_no_guard_when_the_output_policy_allows_everything() -> None:
    assert OutputGuard.of(analyzer(), policy(default="mask"), frozenset()) is None


def test_output_data_the_input_did_not_hold_is_masked() -> None:
    checked = guard(output={"default": "mask"})
    answer = "Écrivez à JEAN.DUPONT@example.lu ou à greffe@justice.lu."
    assert checked.apply(answer) == "Écrivez à JEAN.DUPONT@example.lu ou à <EMAIL>."
    assert checked.personal_data == {"output:EMAIL:mask"}


def test_blocked_output_is_withheld_by_type() -> None:
    checked = guard(output={"default": "allow", "email": "block"})
    with pytest.raises(PersonalDataInOutput) as raised:
        checked.apply("Écrivez à greffe@justice.lu.")
    assert (raised.value.status, raised.value.code, raised.value.types) == (
        422,
        "personal_data_in_output",
        ("EMAIL",),
    )
    assert "greffe" not in str(raised.value.envelope())


STREAMED = (
    "Le dossier est complet. " * 3 + "Contactez greffe@justice.lu, ou jean.dupont@example.lu. Merci." * 2
)
MASKED = "Le dossier est complet. " * 3 + "Contactez <EMAIL>, ou jean.dupont@example.lu. Merci." * 2


@pytest.mark.parametrize("cut", range(0, len(STREAMED) + 1, 3))
def test_a_finding_cut_across_chunks_is_masked_in_a_stream(cut: int) -> None:
    stream = guard(output={"default": "mask"}).stream()
    sent = stream.feed(STREAMED[:cut]) + stream.feed(STREAMED[cut:]) + stream.flush()
    assert sent == MASKED


def test_a_stream_fed_word_by_word_holds_back_only_its_window() -> None:
    stream = guard(output={"default": "mask"}).stream()
    sent = ""
    for word in STREAMED.split(" "):
        sent += stream.feed(word + " ")
        assert len(sent) >= len(MASKED[: len(sent)]) and MASKED.startswith(sent)
    assert len(STREAMED) - len(sent) <= STREAM_WINDOW + len("greffe@justice.lu")
    assert sent + stream.flush() == MASKED + " "


def test_a_blocked_type_ends_a_stream_before_the_finding() -> None:
    stream = guard(output={"email": "block"}).stream()
    sent = "".join(stream.feed(character) for character in STREAMED) + stream.flush()
    assert sent == "Le dossier est complet. " * 3 + "Contactez "
    assert stream.blocked == ["EMAIL"]
