"""Step 7 of the pipeline, `mark`: every generated output says that it is (AI Act art. 50).

In headers, `X-AI-Generated: true` and `X-AI-Model`, for whatever relays the response; in the body, a
`souverain` block that stays with the text when headers are gone: in the JSON of a whole response, and in
the first event of a streamed one (clients of the OpenAI protocol ignore fields they do not know).
The block is spliced into the backend's bytes rather than parsed and written again: a few microseconds
instead of a full JSON round trip of every answer.
"""

from __future__ import annotations

from typing import Any

import orjson


def disclosure(
    model: str, backend: str, jurisdiction: str, use_case: str | None, record: int | None = None
) -> dict[str, Any]:
    """The body's marking: what made the output and where; `record`, the audit record that holds it."""
    block: dict[str, Any] = {
        "ai_generated": True,
        "model": model,
        "backend": backend,
        "jurisdiction": jurisdiction,
        "use_case": use_case,
    }
    if record is not None:
        block["audit_record"] = record
    return block


def headers(model: str) -> dict[str, str]:
    # Header values are latin-1: a model name outside it is named in the body only.
    return {"X-AI-Generated": "true", "X-AI-Model": model if model.isascii() else "see-body"}


def marked(body: bytes, block: dict[str, Any]) -> bytes:
    """The JSON object `body` with the block added as its `souverain` member; anything not an object
    (never sent by a sound backend) is returned as it is."""
    end = body.rstrip()
    if not end.endswith(b"}") or not body.lstrip().startswith(b"{"):
        return body
    inner = end[:-1].rstrip()
    separator = b"" if inner.endswith(b"{") else b","
    return inner + separator + b'"souverain":' + orjson.dumps(block) + b"}"
