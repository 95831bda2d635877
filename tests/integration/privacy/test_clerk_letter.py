"""The issue's story, end to end: a clerk pastes a citizen's letter with a name, a Luxembourg national
number and an IBAN. The model sees placeholders, the clerk sees the real values in the answer, and
nothing personal is left in any log or record."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, client
from tests.integration.privacy.services import calls, everything_recorded

NAME = "Marie Schmit"
NATIONAL_NUMBER = "1983 0715 12356"  # date of birth, serial, Luhn and Verhoeff digits: valid, invented
IBAN = "LU28 0019 4006 4475 0000"  # the ECBS example IBAN for Luxembourg
LETTER = (
    "Madame, Monsieur,\n"
    f"Je soussignée {NAME}, matricule {NATIONAL_NUMBER}, demande le versement de l'allocation sur mon "
    f"compte IBAN {IBAN}.\nCordialement, {NAME}"
)


def test_the_model_sees_placeholders_the_clerk_the_values_and_no_log_keeps_them(
    site_with_pii: Callable[[Any], RunningGateway],
    fake_lu: FakeBackend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = site_with_pii({"default": "pseudonymise"})
    api = client(gateway)

    completion = api.chat.completions.create(model="m", messages=[{"role": "user", "content": LETTER}])

    seen = fake_lu.stats.last_body["messages"][0]["content"]
    assert seen == (
        "Madame, Monsieur,\n"
        "Je soussignée <PERSON_1>, matricule <NATIONAL_ID_1>, demande le versement de l'allocation sur "
        "mon compte IBAN <IBAN_1>.\nCordialement, <PERSON_1>"
    )
    # The fake model echoes the words it saw (one space between them): the clerk reads the letter's own
    # values again.
    assert completion.choices[0].message.content == " ".join(LETTER.split())
    (record,) = calls(gateway)
    assert sorted(record["personal_data"]) == [
        "IBAN:pseudonymise",
        "NATIONAL_ID:pseudonymise",
        "PERSON:pseudonymise",
    ]
    recorded = everything_recorded(gateway)
    for value in (NAME, "Schmit", NATIONAL_NUMBER, "1983071512356", IBAN, "LU280019400644750000"):
        assert value not in recorded
        assert value not in caplog.text
    assert caplog.records  # the server did log its lines
