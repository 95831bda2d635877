"""The request pipeline for one model call: authorise, classify, limit, route with failover, measure.

Authentication happens before (the HTTP layer turns a key into a Principal). A chat call's messages are
protected by the tenant's personal-data policy before any backend sees them, and its answer restored
(steps 4 and 7, see `protect`). Generated text is marked as such (step 7, see `marking`), and every
call, answered or refused, ends with its audit record, durable before the answer leaves (step 8).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import numpy as np
import orjson

from souverain.config import Deployment, TenantConfig
from souverain.engines.base import BackendFailure, Capability, Chunk, Completion, Usage
from souverain.errors import (
    AuditUnavailable,
    BackendUnavailable,
    ClassificationViolation,
    InvalidRequest,
    PermissionDenied,
    PersonalDataBlocked,
    PersonalDataInOutput,
    SouverainError,
    UpstreamRejected,
)
from souverain.gateway.marking import disclosure, marked
from souverain.gateway.metrics import Metrics
from souverain.gateway.protect import Protection, protect
from souverain.gateway.router import Backend, Router
from souverain.governance.audit.events import ContentHasher, ModelCall, actor
from souverain.governance.audit.log import AuditLog
from souverain.privacy.analyzer import Analyzer
from souverain.tenancy.limits.base import RateLimiter
from souverain.tenancy.principal import Principal

T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    completion: Completion  # a chat completion's body carries the `souverain` marking block
    backend: Backend
    record: int  # the seq of its audit record
    disclosure: dict[str, Any] | None = None  # that block (chat only), for what is built from the answer


@dataclass(frozen=True)
class Stream:
    backend: Backend
    events: AsyncIterator[bytes]  # server-sent events, framed and ready to send


class Gateway:
    def __init__(
        self,
        deployment: Deployment,
        router: Router,
        limiter: RateLimiter,
        metrics: Metrics,
        audit: AuditLog,
        hasher: ContentHasher,
        analyzer: Analyzer,
    ) -> None:
        self.deployment = deployment
        self.router = router
        self.limiter = limiter
        self.metrics = metrics
        self.audit = audit
        self.hasher = hasher
        self.analyzer = analyzer

    # --- policy -------------------------------------------------------------------------------------
    def classify(self, principal: Principal, declared: str | None) -> str:
        """The request's level: the declared one (default the lowest), never above the key's clearance."""
        levels = self.deployment.classification_levels
        level = declared or levels[0]
        if level not in levels:
            raise InvalidRequest(
                f"unknown classification {level!r} in X-Classification: expected one of {', '.join(levels)}",
                param="X-Classification",
            )
        if self.deployment.rank(level) > self.deployment.rank(principal.clearance):
            raise ClassificationViolation(
                f"X-Classification {level} is above this key's clearance {principal.clearance}",
                param="X-Classification",
            )
        return level

    async def classify_call(
        self, principal: Principal, payload: dict[str, Any], declared: str | None, endpoint: Capability
    ) -> str:
        """`classify` for a model call: a refusal here is a policy decision, recorded like the others."""
        try:
            return self.classify(principal, declared)
        except SouverainError as error:
            known = declared if declared in self.deployment.classification_levels else "invalid"
            await self._refused(principal, payload, known, endpoint.value, error)
            raise

    async def _admit(
        self, principal: Principal, model: str, capability: Capability, level: str
    ) -> list[Backend]:
        """Steps before any backend is contacted: role, policy (residency, classification), limits,
        then health. Limits come before health so that a caller over its limit hears so even while
        the backends are down."""
        if not principal.role.calls_models:
            raise PermissionDenied(
                f"role {principal.role.value!r} may not call models", code="role_not_allowed"
            )
        case = principal.use_case
        if case is not None and case.spec.models and model not in case.spec.models:
            raise PermissionDenied(
                f"model {model!r} is not registered for use case {case.name!r} "
                f"(its models: {', '.join(case.spec.models)})",
                code="model_not_allowed",
                param="model",
            )
        allowed = self.router.allowed(principal.tenant, model, capability, level)
        if principal.buckets:
            await self.limiter.admit(principal.buckets, time.time())
        return self.router.healthy_first(allowed, model)

    async def _protect(self, principal: Principal, payload: dict[str, Any]) -> Protection | None:
        """Step 4, after the limits (a caller over its limit cannot make the gateway run detection) and
        before any backend is contacted. None, at the cost of one check, for a tenant whose policy allows
        everything in and out."""
        policy = principal.tenant.pii
        if not policy.active:
            return None
        return await protect(self.analyzer, policy, payload)

    async def _refused(
        self, principal: Principal, payload: dict[str, Any], level: str, endpoint: str, error: SouverainError
    ) -> None:
        model = str(payload.get("model"))
        # Counted under the error's code, so dashboards see failures and refusals, not only successes.
        self.metrics.requests.labels(principal.tenant.name, model, "", endpoint, error.code).inc()
        if isinstance(error, AuditUnavailable):
            return
        refusal = ModelCall(
            **actor(principal),
            status=error.code,
            endpoint=endpoint,
            model=model,
            classification=level,
            streamed=bool(payload.get("stream")),
            input_hash=self._input_hash(payload),
            decisions=(f"refused:{error.code}",),
            personal_data=error.personal_data if isinstance(error, PersonalDataBlocked) else (),
        )
        # Nothing was processed: if the log is down, the refusal stands unrecorded (the writer logs why).
        with contextlib.suppress(AuditUnavailable):
            await self.audit.record(refusal)

    def _input_hash(self, payload: dict[str, Any]) -> str:
        content = payload.get("messages", payload.get("input"))
        return self.hasher(orjson.dumps(content, option=orjson.OPT_SORT_KEYS))

    def _answered(
        self,
        principal: Principal,
        payload: dict[str, Any],
        level: str,
        endpoint: Capability,
        backend: Backend,
        usage: Usage | None,
        started: float,
        output_hash: str | None,
        status: str = "ok",
        protection: Protection | None = None,
    ) -> ModelCall:
        return ModelCall(
            **actor(principal),
            status=status,
            endpoint=endpoint.value,
            model=str(payload["model"]),
            classification=level,
            backend=backend.name,
            jurisdiction=backend.jurisdiction,
            streamed=bool(payload.get("stream")),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            input_hash=self._input_hash(payload),
            output_hash=output_hash,
            decisions=(f"route:{backend.name}",),
            personal_data=protection.personal_data if protection else (),
        )

    # --- calls --------------------------------------------------------------------------------------
    async def chat(self, principal: Principal, payload: dict[str, Any], level: str) -> Answer:
        return await self._whole(
            principal, payload, level, Capability.CHAT, lambda backend, sent: backend.engine.complete(sent)
        )

    async def embed(self, principal: Principal, payload: dict[str, Any], level: str) -> Answer:
        return await self._whole(
            principal, payload, level, Capability.EMBEDDINGS, lambda backend, sent: backend.engine.embed(sent)
        )

    async def _whole(
        self,
        principal: Principal,
        payload: dict[str, Any],
        level: str,
        capability: Capability,
        call: Callable[[Backend, dict[str, Any]], Awaitable[Completion]],
    ) -> Answer:
        model = payload["model"]
        endpoint = capability.value
        started = time.perf_counter()
        protection: Protection | None = None
        try:
            candidates = await self._admit(principal, model, capability, level)
            if capability is Capability.CHAT:
                protection = await self._protect(principal, payload)
            sent = protection.payload if protection else payload
            completion, backend = await self._failover(
                candidates, model, lambda backend: call(backend, sent), release=True
            )
        except SouverainError as error:
            await self._refused(principal, payload, level, endpoint, error)
            raise
        labels = (principal.tenant.name, model, backend.name)
        output = self.hasher(completion.body)  # the model's own bytes, before anything is restored
        status = "ok"
        withheld: PersonalDataInOutput | None = None
        if protection is not None:
            try:
                completion = replace(completion, body=protection.answer(completion.body))
            except PersonalDataInOutput as error:
                status, withheld = error.code, error
        self.metrics.latency.labels(*labels, endpoint).observe(time.perf_counter() - started)
        self.metrics.requests.labels(*labels, endpoint, status).inc()
        await self._count(principal, labels, completion.usage)
        record = await self.audit.record(
            self._answered(
                principal,
                payload,
                level,
                capability,
                backend,
                completion.usage,
                started,
                output,
                status,
                protection,
            )
        )
        if withheld is not None:
            raise withheld
        if capability is not Capability.CHAT:
            return Answer(completion, backend, record)
        block = self._disclosure(principal, model, backend, record)
        return Answer(replace(completion, body=marked(completion.body, block)), backend, record, block)

    def _disclosure(
        self, principal: Principal, model: str, backend: Backend, record: int | None = None
    ) -> dict[str, Any]:
        case = principal.use_case.name if principal.use_case else None
        return disclosure(model, backend.name, backend.jurisdiction, case, record)

    async def embed_texts(
        self, tenant: TenantConfig, model: str, texts: list[str], level: str, input_type: str
    ) -> np.ndarray:
        """Vectors (L2-normalised float32) for souverain's own use: documents and questions of a tenant,
        embedded only by a backend its residency and the text's classification allow."""
        allowed = self.router.allowed(tenant, model, Capability.EMBEDDINGS, level, platform=True)
        candidates = self.router.healthy_first(allowed, model)
        payload = {"model": model, "input": texts, "encoding_format": "base64", "input_type": input_type}
        completion, backend = await self._failover(
            candidates, model, lambda backend: backend.engine.embed(payload), release=True
        )
        self.metrics.tokens.labels(tenant.name, model, backend.name, "prompt").inc(
            completion.usage.prompt_tokens
        )
        return _vectors(completion.body, len(texts))

    async def stream_chat(self, principal: Principal, payload: dict[str, Any], level: str) -> Stream:
        model = payload["model"]
        started = time.perf_counter()
        wants_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        # Always ask for usage, so limits and metrics count streamed tokens too.
        upstream = {
            **payload,
            "stream_options": {**(payload.get("stream_options") or {}), "include_usage": True},
        }

        async def open_stream(backend: Backend) -> tuple[AsyncGenerator[Chunk, None], Chunk]:
            chunks = backend.engine.stream(upstream)
            try:
                return chunks, await anext(chunks)
            except StopAsyncIteration:
                raise BackendFailure("empty stream") from None
            except BaseException:
                await chunks.aclose()
                raise

        try:
            candidates = await self._admit(principal, model, Capability.CHAT, level)
            protection = await self._protect(principal, payload)
            if protection is not None:
                upstream["messages"] = protection.payload["messages"]
            (chunks, first), backend = await self._failover(candidates, model, open_stream, release=False)
        except SouverainError as error:
            await self._refused(principal, payload, level, Capability.CHAT.value, error)
            raise
        labels = (principal.tenant.name, model, backend.name)
        self.metrics.time_to_first_token.labels(*labels).observe(time.perf_counter() - started)
        events = self._relay(
            principal, payload, level, backend, labels, chunks, first, wants_usage, started, protection
        )
        return Stream(backend, events)

    async def _relay(
        self,
        principal: Principal,
        payload: dict[str, Any],
        level: str,
        backend: Backend,
        labels: tuple[str, str, str],
        chunks: AsyncGenerator[Chunk, None],
        first: Chunk,
        wants_usage: bool,
        started: float,
        protection: Protection | None = None,
    ) -> AsyncIterator[bytes]:
        usage: Usage | None = None
        status = "cancelled"
        recorded = False
        output = self.hasher.incremental()
        pending = b""  # events that arrived together leave together
        block: dict[str, Any] | None = self._disclosure(principal, str(payload["model"]), backend)
        rewriter = protection.stream() if protection else None

        def record(status: str) -> ModelCall:  # of the stream as it stands
            hashed = output.hexdigest()
            return self._answered(
                principal,
                payload,
                level,
                Capability.CHAT,
                backend,
                usage,
                started,
                hashed,
                status,
                protection,
            )

        def event(data: bytes) -> bytes:
            nonlocal block
            if block is not None:  # the first event sent carries the marking
                data, block = marked(data, block), None
            return b"data: " + data + b"\n\n"

        try:
            chunk: Chunk | None = first
            while chunk is not None:
                usage = chunk.usage or usage
                output.update(chunk.data)  # the model's own bytes, before anything is restored
                if wants_usage or not chunk.usage_only:
                    data = chunk.data
                    if rewriter is not None and not chunk.usage_only:
                        data = rewriter.event(data)
                    pending += event(data)
                if rewriter is not None and rewriter.blocked:
                    break
                if pending and not chunk.more_ready:
                    yield pending
                    pending = b""
                chunk = await anext(chunks, None)
            if rewriter is not None and not rewriter.blocked and (rest := rewriter.flush()) is not None:
                pending += event(rest)
            if rewriter is not None and rewriter.blocked:
                # What came before the blocked finding has left; the finding never does, and the stream
                # ends here, its generation cancelled (see docs/privacy.md).
                withheld = PersonalDataInOutput(rewriter.blocked)
                status = withheld.code
                recorded = True
                await self.audit.record(record(status))
                yield pending + _error_event(withheld)
                return
            # The record is durable before the stream's end is sent: a caller who saw [DONE] is recorded.
            recorded = True
            await self.audit.record(record("ok"))
            yield pending + b"data: [DONE]\n\n"
            status = "ok"
        except BackendFailure as failure:
            # Bytes are already with the caller: no failover now, end the stream with an error event.
            self._failed(backend, failure)
            status = "stream_error"
            broken = SouverainError(f"the backend failed mid-stream ({failure})", code="backend_stream_error")
            recorded = True
            await self.audit.record(record(broken.code))
            yield pending + _error_event(broken)
        except AuditUnavailable as failure:
            status = failure.code
            yield pending + _error_event(failure)
        finally:
            if not recorded:  # the caller went away mid-stream: recorded without holding anyone up
                with contextlib.suppress(AuditUnavailable):
                    self.audit.submit(record("cancelled"))
            backend.in_flight -= 1
            await chunks.aclose()
            self.metrics.latency.labels(*labels, Capability.CHAT.value).observe(time.perf_counter() - started)
            self.metrics.requests.labels(*labels, Capability.CHAT.value, status).inc()
            if usage is not None:
                await self._count(principal, labels, usage)

    async def _failover(
        self,
        candidates: list[Backend],
        model: str,
        call: Callable[[Backend], Awaitable[T]],
        *,
        release: bool,
    ) -> tuple[T, Backend]:
        """Try the candidates in order until one answers; `release=False` keeps it counted as busy."""
        for backend in candidates:
            if not backend.breaker.available():
                continue
            backend.breaker.begin()
            backend.in_flight += 1
            try:
                result = await call(backend)
            except BackendFailure as failure:
                backend.in_flight -= 1
                self._failed(backend, failure)
                continue
            except UpstreamRejected:
                backend.in_flight -= 1
                backend.breaker.succeeded()  # it answered: the request was wrong, not the backend
                raise
            except BaseException:
                backend.in_flight -= 1
                backend.breaker.probing = False
                raise
            if release:
                backend.in_flight -= 1
            backend.breaker.succeeded()
            self.metrics.circuit_open.labels(backend.name).set(0)
            return result, backend
        raise BackendUnavailable(f"no backend allowed for model {model!r} could answer; retry later")

    def _failed(self, backend: Backend, failure: BackendFailure) -> None:
        backend.breaker.failed()
        self.metrics.backend_failures.labels(backend.name, str(failure)).inc()
        self.metrics.circuit_open.labels(backend.name).set(0 if backend.breaker.available() else 1)

    async def _count(self, principal: Principal, labels: tuple[str, str, str], usage: Usage) -> None:
        self.metrics.tokens.labels(*labels, "prompt").inc(usage.prompt_tokens)
        self.metrics.tokens.labels(*labels, "completion").inc(usage.completion_tokens)
        if any(bucket.max_tokens for bucket in principal.buckets):
            await self.limiter.add_tokens(principal.buckets, usage.total_tokens, time.time())


def _error_event(error: SouverainError) -> bytes:
    body = {"error": {"message": error.message, "type": error.type, "code": error.code}}
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _vectors(body: bytes, expected: int) -> np.ndarray:
    """The embeddings of an OpenAI-style response, base64 or floats, as unit vectors in input order."""
    try:
        data = sorted(orjson.loads(body)["data"], key=lambda item: item["index"])
        rows = [
            np.frombuffer(base64.b64decode(item["embedding"]), dtype=np.float32)
            if isinstance(item["embedding"], str)
            else np.asarray(item["embedding"], dtype=np.float32)
            for item in data
        ]
        vectors = np.vstack(rows)
    except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
        raise BackendFailure("malformed embeddings response") from None
    if len(vectors) != expected:
        raise BackendFailure("embeddings response has the wrong number of vectors")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
