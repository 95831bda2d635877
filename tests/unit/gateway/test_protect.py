"""The policy over OpenAI chat payloads: every role's text and text parts protected, the caller's payload
left as sent, answers restored whole or event by event."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from souverain.config_privacy import PiiPolicy
from souverain.errors import PersonalDataInOutput
from souverain.gateway.protect import Protection, protect
from tests.unit.privacy.recognizers import analyzer

POLICY = PiiPolicy.model_validate({"default": "pseudonymise", "output": {"default": "mask"}})
MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Agent: marie@example.fr"},
    {"role": "user", "content": [{"type": "text", "text": "Je suis Jean Dupont"}, {"type": "image_url"}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
    {"role": "user", "content": "jean dupont, encore"},
]


def protected(policy: PiiPolicy = POLICY) -> Protection:
    return asyncio.run(protect(analyzer(), policy, {"model": "m", "messages": MESSAGES, "top_k": 3}))


def test_every_role_and_text_part_is_protected_in_a_copy() -> None:
    protection = protected()
    assert protection.payload["messages"] == [
        {"role": "system", "content": "Agent: <EMAIL_1>"},
        {"role": "user", "content": [{"type": "text", "text": "Je suis <PERSON_1>"}, {"type": "image_url"}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "user", "content": "<PERSON_1>, encore"},
    ]
    assert protection.payload["top_k"] == 3  # unknown parameters still reach the backend
    assert MESSAGES[0]["content"] == "Agent: marie@example.fr"
    assert protection.personal_data == ("EMAIL:pseudonymise", "PERSON:pseudonymise")


def completion(content: str) -> bytes:
    message = {"role": "assistant", "content": content}
    message["tool_calls"] = [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"to": "<EMAIL_1>"}'}}
    ]
    return orjson.dumps(
        {"id": "x", "choices": [{"index": 0, "message": message}], "usage": {"prompt_tokens": 1}}
    )


def test_a_whole_answer_is_restored_and_checked() -> None:
    protection = protected()
    body = orjson.loads(protection.answer(completion("Bonjour <PERSON_1>, voir greffe@justice.lu")))
    message = body["choices"][0]["message"]
    assert message["content"] == "Bonjour Jean Dupont, voir <EMAIL>"
    assert message["tool_calls"][0]["function"]["arguments"] == '{"to": "marie@example.fr"}'
    assert protection.personal_data[-1] == "output:EMAIL:mask"


def test_a_blocked_type_in_a_whole_answer_withholds_it() -> None:
    protection = protected(
        PiiPolicy.model_validate({"default": "pseudonymise", "output": {"email": "block"}})
    )
    with pytest.raises(PersonalDataInOutput):
        protection.answer(completion("voir greffe@justice.lu"))


def events(*pieces: str, finish: bool = True) -> list[bytes]:
    base = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
        for piece in pieces
    ]
    if finish:
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({**base, "choices": [], "usage": {"prompt_tokens": 1}})
    return [orjson.dumps(chunk) for chunk in chunks]


def streamed(protection: Protection, data: list[bytes]) -> tuple[str, list[dict[str, Any]]]:
    rewriter = protection.stream()
    assert rewriter is not None
    sent = [orjson.loads(rewriter.event(event)) for event in data]
    rest = rewriter.flush()
    if rest is not None:
        sent.append(orjson.loads(rest))
    text = "".join(choice["delta"].get("content") or "" for chunk in sent for choice in chunk["choices"])
    return text, sent


def test_a_stream_is_restored_across_events_and_flushed_with_its_finish() -> None:
    text, sent = streamed(protected(), events("Bonjour <PER", "SON_1>, ", "voir greffe@jus", "tice.lu"))
    assert text == "Bonjour Jean Dupont, voir <EMAIL>"
    assert sent[-2]["choices"][0]["finish_reason"] == "stop" and sent[-2]["choices"][0]["delta"]["content"]
    assert sent[-1]["usage"] == {"prompt_tokens": 1}


def test_a_stream_without_a_finish_gets_its_held_text_in_an_event_of_its_own() -> None:
    text, sent = streamed(protected(), events("fin <PERSON_", "1", finish=False))
    assert text == "fin <PERSON_1"
    assert sent[-1]["id"] == "x" and sent[-1]["object"] == "chat.completion.chunk"


def test_an_inactive_output_side_leaves_the_stream_alone() -> None:
    policy = PiiPolicy.model_validate({"default": "mask"})
    assert protected(policy).stream() is None
