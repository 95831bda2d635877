"""Step 4 of the pipeline, `protect`, and the restoring half of step 7, on OpenAI chat payloads: the
tenant's policy applied to every message's text before a backend sees it, the placeholders put back and
the output policy applied to what the model writes, whole or streamed.

Only called for a tenant whose policy is active: for the others no text is ever looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import orjson

from souverain.config_privacy import PiiPolicy
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.long_texts import analysed
from souverain.privacy.policy import OutputGuard, StreamGuard, screen
from souverain.privacy.pseudonyms import Pseudonyms, Restorer


@dataclass
class Protection:
    """One request's protection: the payload for the backend, and what is needed to restore and check
    its answer. Lives as long as the request, and with it the placeholders' values."""

    payload: dict[str, Any]
    pseudonyms: Pseudonyms
    found: tuple[str, ...]  # "TYPE:action" of the input
    guard: OutputGuard | None

    @property
    def personal_data(self) -> tuple[str, ...]:
        """For the audit record: the input's types and decisions, then the output's."""
        return self.found + tuple(sorted(self.guard.personal_data)) if self.guard else self.found

    @property
    def rewrites_output(self) -> bool:
        return bool(self.pseudonyms) or self.guard is not None

    def answer(self, body: bytes) -> bytes:
        """A whole chat completion, restored and checked; raises PersonalDataInOutput when blocked."""
        if not self.rewrites_output:
            return body
        try:
            response = orjson.loads(body)
        except orjson.JSONDecodeError:
            return body  # not a completion a client could read either; the relay's checks stand
        choices = response.get("choices") if isinstance(response, dict) else None
        for choice in choices if isinstance(choices, list) else ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                checked = self.guard.apply(content) if self.guard else content
                message["content"] = self.pseudonyms.restore(checked)
            for call in message.get("tool_calls") or ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                    function["arguments"] = self.pseudonyms.restore(function["arguments"])
        return orjson.dumps(response)

    def stream(self) -> StreamFilter | None:
        return StreamFilter(self) if self.rewrites_output else None


async def protect(analyzer: Analyzer, policy: PiiPolicy, payload: dict[str, Any]) -> Protection:
    """The request's messages under the policy; raises PersonalDataBlocked when a type is blocked."""
    messages = payload["messages"]
    texts, put_back = _texts(messages)
    screened = await analysed(sum(len(text) for text in texts), partial(screen, analyzer, policy, texts))
    protected = payload if screened.texts is texts else {**payload, "messages": put_back(screened.texts)}
    guard = OutputGuard.of(analyzer, policy, screened.seen)
    return Protection(protected, screened.pseudonyms, screened.personal_data, guard)


def _texts(messages: list[Any]) -> tuple[list[str], Callable[[list[str]], list[Any]]]:
    """Every text of the messages, all roles, in order: string contents and the text of content parts;
    and the function that puts changed texts back into a copy (the caller's messages stay as sent)."""
    texts: list[str] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [part["text"] for part in content if _is_text(part)]

    def put_back(changed: list[str]) -> list[Any]:
        replacements = iter(changed)
        copied: list[Any] = []
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                message = {**message, "content": next(replacements)}
            elif isinstance(content, list):
                parts = [{**part, "text": next(replacements)} if _is_text(part) else part for part in content]
                message = {**message, "content": parts}
            copied.append(message)
        return copied

    return texts, put_back


def _is_text(part: Any) -> bool:
    return isinstance(part, dict) and isinstance(part.get("text"), str)


class _Choice:
    """One choice of a stream: the output policy's window first, then the placeholders' restoring."""

    def __init__(self, protection: Protection) -> None:
        self.guard: StreamGuard | None = protection.guard.stream() if protection.guard else None
        self.restorer: Restorer | None = protection.pseudonyms.restorer() if protection.pseudonyms else None

    def feed(self, piece: str) -> str:
        checked = self.guard.feed(piece) if self.guard else piece
        return self.restorer.feed(checked) if self.restorer else checked

    def flush(self) -> str:
        checked = self.guard.flush() if self.guard else ""
        return self.restorer.feed(checked) + self.restorer.flush() if self.restorer else checked


class StreamFilter:
    """Rewrites a stream's events: each choice's `delta.content` restored and checked. Text held back
    (a possible placeholder's beginning, the output policy's window) goes out with the choice's last
    event, the one with its `finish_reason`, or in an event of its own at the end (`flush`)."""

    def __init__(self, protection: Protection) -> None:
        self._protection = protection
        self._choices: dict[int, _Choice] = {}
        self._base: dict[str, Any] = {"object": "chat.completion.chunk"}
        self.blocked: list[str] = []  # the types the output policy blocks, once one is met: end there

    def event(self, data: bytes) -> bytes:
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        choices = chunk.get("choices") if isinstance(chunk, dict) else None
        if not isinstance(choices, list) or not choices:
            return data
        self._base = {key: chunk[key] for key in ("id", "object", "created", "model") if key in chunk}
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            index = choice.get("index", 0)
            state = self._choices.get(index) if isinstance(index, int) else None
            if state is None and isinstance(index, int):
                state = self._choices[index] = _Choice(self._protection)
            if state is None:
                continue
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            text = state.feed(content) if isinstance(content, str) else ""
            if choice.get("finish_reason") is not None:
                text += state.flush()
                del self._choices[index]
            if state.guard is not None and state.guard.blocked:
                self.blocked = state.guard.blocked
            if text or isinstance(content, str):
                choice["delta"] = {**(delta if isinstance(delta, dict) else {}), "content": text}
        return orjson.dumps(chunk)

    def flush(self) -> bytes | None:
        """An event with what is still held back, if anything is (a stream that ended without a
        `finish_reason`)."""
        rests = [(index, choice.flush()) for index, choice in sorted(self._choices.items())]
        self._choices.clear()
        choices = [
            {"index": index, "delta": {"content": text}, "finish_reason": None}
            for index, text in rests
            if text
        ]
        return orjson.dumps({**self._base, "choices": choices}) if choices else None
