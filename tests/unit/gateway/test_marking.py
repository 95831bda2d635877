"""The marking block spliced into a backend's JSON: the result is the same object with one more member."""

from __future__ import annotations

import orjson
import pytest

from souverain.gateway.marking import disclosure, headers, marked

BLOCK = disclosure("mistral-small", "mistral-lu", "LU", "citizen-faq", 42)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":"x","choices":[{"message":{"content":"}"}}]}',
        b'{"id": "x", "nested": {}}\n',
        b"{}",
        b"  { }  ",
        b'{"text":"caf\xc3\xa9 {"}',
    ],
)
def test_the_block_joins_the_object_and_leaves_the_rest_as_it_was(body: bytes) -> None:
    before = orjson.loads(body)
    after = orjson.loads(marked(body, BLOCK))
    assert after == before | {"souverain": BLOCK}


def test_what_is_not_an_object_is_left_alone() -> None:
    assert marked(b"[1, 2]", BLOCK) == b"[1, 2]"
    assert marked(b"", BLOCK) == b""


def test_headers_name_the_model_and_stay_latin_1() -> None:
    assert headers("mistral-small") == {"X-AI-Generated": "true", "X-AI-Model": "mistral-small"}
    assert headers("modèle-ü")["X-AI-Model"].isascii()
    assert BLOCK["ai_generated"] is True and BLOCK["audit_record"] == 42
