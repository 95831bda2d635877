"""A tenant's personal-data policy on chat completions, through the official `openai` client against the
real app on loopback: what the backend receives, what the caller gets back, and what is recorded."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import openai
import pytest

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway, client
from tests.integration.privacy.services import calls, everything_recorded

ADDRESS = "jean.dupont@example.lu"
OTHER = "greffe@justice.lu"
MESSAGES: Any = [
    {"role": "system", "content": "Réponds en français."},
    {"role": "user", "content": f"Le demandeur écrit depuis {ADDRESS}. Accusez réception à {ADDRESS}"},
]


def test_the_backend_sees_placeholders_and_the_caller_the_values(
    site_with_pii: Callable[[Any], RunningGateway],
    fake_lu: FakeBackend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = site_with_pii({"default": "pseudonymise"})
    api = client(gateway)
    completion = api.chat.completions.create(model="m", messages=MESSAGES)
    sent = fake_lu.stats.last_body["messages"]
    assert sent[1]["content"] == "Le demandeur écrit depuis <EMAIL_1>. Accusez réception à <EMAIL_1>"
    # The fake echoes the last message: its placeholders come back as the address.
    assert (
        completion.choices[0].message.content
        == f"Le demandeur écrit depuis {ADDRESS}. Accusez réception à {ADDRESS}"
    )
    (record,) = calls(gateway)
    assert record["personal_data"] == ["EMAIL:pseudonymise"] and record["status"] == "ok"
    assert ADDRESS not in everything_recorded(gateway)
    assert "jean.dupont" not in caplog.text and caplog.records  # the access log did write its lines


def test_a_placeholder_cut_across_streamed_chunks_is_restored(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    gateway = site_with_pii({"default": "pseudonymise"})
    api = client(gateway)
    fake_lu.pieces = ["Réponse envoyée à <EM", "AIL", "_1", ">", " et à <EMAIL_2>."]
    stream = api.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    chunks = list(stream)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == f"Réponse envoyée à {ADDRESS} et à <EMAIL_2>."  # <EMAIL_2> was made up by the model
    assert "souverain" in (chunks[0].model_extra or {})  # still marked
    assert "<EMAIL_1>" in fake_lu.stats.last_body["messages"][1]["content"]
    (record,) = calls(gateway)
    assert record["streamed"] and record["personal_data"] == ["EMAIL:pseudonymise"]


def test_masked_data_is_not_restored(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    api = client(site_with_pii({"email": "mask"}))
    completion = api.chat.completions.create(model="m", messages=MESSAGES)
    assert fake_lu.stats.last_body["messages"][1]["content"].endswith("Accusez réception à <EMAIL>")
    assert completion.choices[0].message.content.endswith("Accusez réception à <EMAIL>")  # type: ignore[union-attr]


@pytest.mark.parametrize("stream", [False, True])
def test_a_blocked_type_refuses_the_request_and_names_only_the_type(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend, fake_fr: FakeBackend, stream: bool
) -> None:
    gateway = site_with_pii({"default": "pseudonymise", "email": "block"})
    api = client(gateway)
    with pytest.raises(openai.PermissionDeniedError) as raised:
        api.chat.completions.create(model="m", messages=MESSAGES, stream=stream)
    error = raised.value.body
    assert (
        isinstance(error, dict) and error["code"] == "personal_data_blocked" and "EMAIL" in error["message"]
    )
    assert ADDRESS not in raised.value.response.text
    assert fake_lu.stats.chat == fake_fr.stats.chat == 0  # nothing was sent anywhere
    (record,) = calls(gateway)
    assert record["status"] == "personal_data_blocked" and record["personal_data"] == ["EMAIL:block"]
    assert record["backend"] is None


def test_output_data_the_input_did_not_hold_is_masked(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    gateway = site_with_pii({"output": {"default": "mask"}})
    api = client(gateway)
    fake_lu.reply = f"Écrivez à {OTHER} en copie de {ADDRESS}."
    completion = api.chat.completions.create(model="m", messages=MESSAGES)
    assert completion.choices[0].message.content == f"Écrivez à <EMAIL> en copie de {ADDRESS}."
    assert ADDRESS in fake_lu.stats.last_body["messages"][1]["content"]  # allowed in
    (record,) = calls(gateway)
    assert record["personal_data"] == ["EMAIL:allow", "output:EMAIL:mask"]


def test_output_data_is_masked_in_a_stream_even_when_cut_across_chunks(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    api = client(site_with_pii({"output": {"default": "mask"}}))
    fake_lu.pieces = ["Écrivez à gre", "ffe@jus", "tice.lu en copie."]
    stream = api.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Écrivez à <EMAIL> en copie."


def test_a_blocked_type_in_a_whole_answer_withholds_it(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    gateway = site_with_pii({"output": {"email": "block"}})
    api = client(gateway)
    fake_lu.reply = f"Écrivez à {OTHER}."
    with pytest.raises(openai.UnprocessableEntityError) as raised:
        api.chat.completions.create(model="m", messages=MESSAGES)
    assert OTHER not in raised.value.response.text
    assert isinstance(raised.value.body, dict) and raised.value.body["code"] == "personal_data_in_output"
    (record,) = calls(gateway)
    assert record["status"] == "personal_data_in_output" and record["backend"] == "fake-lu"
    assert record["personal_data"] == ["EMAIL:allow", "output:EMAIL:block"]


def test_a_blocked_type_ends_a_stream_before_it(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    gateway = site_with_pii({"output": {"email": "block"}})
    api = client(gateway)
    fake_lu.pieces = ["Bien reçu. " * 8, "Écrivez à gre", "ffe@justice.lu ", "demain."]
    stream = api.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    text = ""
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    assert "personal data" in raised.value.message and OTHER not in raised.value.message
    assert text.startswith("Bien reçu.") and "greffe" not in text
    (record,) = calls(gateway)
    assert record["status"] == "personal_data_in_output"


def test_an_inactive_policy_changes_nothing(
    site_with_pii: Callable[[Any], RunningGateway], fake_lu: FakeBackend
) -> None:
    gateway = site_with_pii({"default": "allow"})
    api = client(gateway)
    api.chat.completions.create(model="m", messages=MESSAGES)
    assert ADDRESS in fake_lu.stats.last_body["messages"][1]["content"]
    (record,) = calls(gateway)
    assert record["personal_data"] == []
