"""Every generated output is marked as such, through the official `openai` client: in headers, and in a
block of the body that stays with the text, streamed or not."""

from __future__ import annotations

import orjson

from tests.integration.conftest import RunningGateway, client

MESSAGES = [{"role": "user", "content": "Quels sont les horaires du guichet ?"}]


def test_a_completion_is_marked_in_its_headers_and_body(two_sites: RunningGateway) -> None:
    raw = client(two_sites).chat.completions.with_raw_response.create(
        model="m",
        messages=MESSAGES,  # type: ignore[arg-type]
    )
    assert (raw.headers["x-ai-generated"], raw.headers["x-ai-model"]) == ("true", "m")
    completion = raw.parse()
    assert completion.choices[0].message.content  # the answer itself is untouched and still parses
    block = (completion.model_extra or {})["souverain"]
    assert block["ai_generated"] is True
    assert (block["model"], block["backend"], block["jurisdiction"]) == ("m", "fake-lu", "LU")
    assert isinstance(block["audit_record"], int) and block["audit_record"] > 0


def test_a_stream_is_marked_in_its_headers_and_first_event(two_sites: RunningGateway) -> None:
    raw = client(two_sites).chat.completions.with_raw_response.create(
        model="m",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    assert raw.headers["x-ai-generated"] == "true"
    chunks = list(raw.parse())
    first = (chunks[0].model_extra or {})["souverain"]
    assert first["ai_generated"] is True and first["backend"] == "fake-lu"
    assert all("souverain" not in (chunk.model_extra or {}) for chunk in chunks[1:])
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def test_embeddings_are_not_text_for_people_and_are_not_marked(two_sites: RunningGateway) -> None:
    raw = client(two_sites).embeddings.with_raw_response.create(model="m", input="bonjour")
    assert "x-ai-generated" not in raw.headers
    assert "souverain" not in orjson.loads(raw.http_response.content)
