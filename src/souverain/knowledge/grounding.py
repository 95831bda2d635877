"""Retrieval on chat completions: a `collections` field puts the tenant's passages in front of the model.

The passages go in a system message, numbered; the response carries them as `citations`, so an OpenAI
client (`extra_body={"collections": [...]}`) gets answers grounded in the administration's documents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from souverain.errors import InvalidRequest
from souverain.knowledge.answers import PASSAGES, citation_of, highest_level, numbered_passages
from souverain.knowledge.recorded import RecordedKnowledge
from souverain.tenancy.principal import Principal

INSTRUCTIONS = """Answer from the numbered passages below, which come from the organisation's own documents.
Cite the passages you use as [1], [2] after each sentence. If they do not contain the answer, say so.

{passages}"""


@dataclass(frozen=True)
class Grounded:
    payload: dict[str, Any]  # the request to send on, with the passages and without `collections`
    citations: list[dict[str, Any]]
    level: str  # the highest of the request's and the passages' classifications


async def ground(
    knowledge: RecordedKnowledge, principal: Principal, level: str, payload: dict[str, Any]
) -> Grounded:
    collections = payload.get("collections")
    if (
        not isinstance(collections, list)
        or not collections
        or not all(isinstance(c, str) for c in collections)
    ):
        raise InvalidRequest("collections must be a non-empty list of collection names", param="collections")
    question = _last_user_text(payload.get("messages") or [])
    retrieval = await knowledge.search(principal, level, question, collections, PASSAGES, endpoint="chat")
    passages = numbered_passages(retrieval.results)
    system = {"role": "system", "content": INSTRUCTIONS.format(passages=passages or "(none found)")}
    upstream = {key: value for key, value in payload.items() if key != "collections"}
    upstream["messages"] = [system, *payload["messages"]]
    highest = highest_level(knowledge.deployment, level, retrieval.results)
    citations = [
        asdict(citation_of(n, result, 0, len(result.chunk.text)))
        for n, result in enumerate(retrieval.results, start=1)
    ]
    return Grounded(upstream, citations, highest)


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    raise InvalidRequest("retrieval needs a user message to search with", param="messages")
