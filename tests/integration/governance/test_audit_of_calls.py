"""Model calls through `souverain serve`, seen in the audit log: each one recorded by the time its answer
arrives, refusals too, and never the content itself."""

from __future__ import annotations

import sqlite3

import openai
import orjson
import pytest

from souverain.governance.audit.chain import Finding, Stored
from tests.integration.conftest import RunningGateway, client
from tests.integration.governance.records import logged

SECRET_WORDS = "Jean Dupont, matricule 1984-0312"
MESSAGES = [{"role": "user", "content": f"Le dossier de {SECRET_WORDS} est-il complet ?"}]


def records(gateway: RunningGateway) -> tuple[list[Stored], Finding | None]:
    """The model calls recorded (the keys' creation is recorded too), and the whole chain's first fault."""
    return logged(gateway.settings.sqlalchemy_url(), "model_call")


def test_an_answered_call_is_recorded_before_its_answer_arrives(two_sites: RunningGateway) -> None:
    api = client(two_sites)
    completion = api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    # Read at once, with nothing waited for: the record was committed before the response was sent.
    stored, fault = records(two_sites)
    assert len(stored) == 1 and fault is None
    body = orjson.loads(stored[0].body)
    assert body["kind"] == "model_call" and body["status"] == "ok" and body["streamed"] is False
    assert (body["tenant"], body["role"], body["model"]) == ("lu-health", "member", "m")
    assert (body["backend"], body["jurisdiction"]) == ("fake-lu", "LU")
    assert body["prompt_tokens"] == completion.usage.prompt_tokens  # type: ignore[union-attr]
    assert len(body["input_hash"]) == len(body["output_hash"]) == 64
    assert SECRET_WORDS not in stored[0].body and "Dupont" not in stored[0].body


def test_a_streamed_call_is_recorded_before_its_end_arrives(two_sites: RunningGateway) -> None:
    api = client(two_sites)
    stream = api.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text
    stored, fault = records(two_sites)
    assert len(stored) == 1 and fault is None
    body = orjson.loads(stored[0].body)
    assert body["streamed"] is True and body["status"] == "ok" and body["completion_tokens"] > 0


def test_refusals_are_recorded_with_the_code_the_caller_got(two_sites: RunningGateway) -> None:
    api = client(two_sites)
    with pytest.raises(openai.PermissionDeniedError):
        # Above the key's clearance (the lowest level by default).
        api.chat.completions.create(
            model="m",
            messages=MESSAGES,  # type: ignore[arg-type]
            extra_headers={"X-Classification": "SECRET"},
        )
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="not-served", messages=MESSAGES)  # type: ignore[arg-type]
    stored, fault = records(two_sites)
    statuses = [orjson.loads(record.body)["status"] for record in stored]
    assert fault is None
    assert statuses == ["classification_violation", "model_not_found"]
    assert all(status != "ok" for status in statuses)
    assert all(orjson.loads(record.body)["backend"] is None for record in stored)


def test_no_answer_leaves_unrecorded_when_the_log_cannot_write(two_sites: RunningGateway) -> None:
    api = client(two_sites)
    api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    store = sqlite3.connect(two_sites.settings.data_dir / "souverain.db")
    store.execute("ALTER TABLE audit_records RENAME TO audit_records_away")
    store.commit()
    try:
        with pytest.raises(openai.APIStatusError) as refused:
            api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert refused.value.status_code == 503
        assert refused.value.body["code"] == "audit_unavailable"  # type: ignore[index]
    finally:
        store.execute("ALTER TABLE audit_records_away RENAME TO audit_records")
        store.commit()
        store.close()
    api.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    stored, fault = records(two_sites)
    assert (
        len(stored) == 2
        and fault is None
        and all(orjson.loads(record.body)["status"] == "ok" for record in stored)
    )
