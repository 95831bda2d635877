"""The Engine protocol every model backend implements, and what it returns or raises."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Capability(StrEnum):
    CHAT = "chat"
    EMBEDDINGS = "embeddings"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def of(cls, usage: Any) -> Usage | None:
        if not isinstance(usage, dict):
            return None
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
        if not isinstance(prompt, int) or not isinstance(completion, int):
            return None
        return cls(prompt, completion)


@dataclass(frozen=True)
class Completion:
    """A whole response: the JSON body to send as is, and the tokens it used."""

    body: bytes
    usage: Usage


@dataclass(frozen=True)
class Chunk:
    """One server-sent event of a streamed completion: its JSON payload, and usage if it carries it."""

    data: bytes
    usage: Usage | None = None
    usage_only: bool = False  # the final usage report (no choices), sent on only if the caller asked
    # Another chunk arrived with this one: the relay sends them in one write. With a fast backend this
    # halves the cost of a stream; with a slow one every chunk still leaves as soon as it arrives.
    more_ready: bool = False


class BackendFailure(Exception):
    """The backend could not serve the request (down, 5xx, timeout, broken stream): try another one.

    The message is for logs and metrics; it never holds the backend's URL or the request's content.
    """


class Engine(Protocol):
    capabilities: frozenset[Capability]

    async def start(self) -> None:
        """Open connections or load the model; called once before the first request."""

    async def close(self) -> None:
        """Release connections and memory."""

    async def complete(self, payload: dict[str, Any]) -> Completion:
        """A chat completion (OpenAI request body). Raises BackendFailure or UpstreamRejected."""

    def stream(self, payload: dict[str, Any]) -> AsyncGenerator[Chunk, None]:
        """A streamed chat completion, one chunk per event as it arrives, ending with the usage chunk."""

    async def embed(self, payload: dict[str, Any]) -> Completion:
        """Embeddings (OpenAI request body)."""
