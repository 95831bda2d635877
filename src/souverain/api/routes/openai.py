"""The OpenAI-compatible endpoints: models, chat completions (whole or streamed), embeddings.

Bodies are parsed once with orjson and validated with the pydantic models, but the parsed dict is what
travels on, so parameters souverain does not know reach the backend unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from souverain.api.deps import CurrentPrincipal, ServicesDep
from souverain.api.errors import validation_error
from souverain.api.routes.reviews import held_response
from souverain.api.schemas import ChatCompletionRequest, EmbeddingsRequest, Model, ModelList, error_responses
from souverain.engines.base import Capability
from souverain.errors import InvalidRequest
from souverain.gateway import marking
from souverain.gateway.router import Backend
from souverain.knowledge.grounding import ground

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])

_ERRORS = error_responses(400, 401, 403, 404, 413, 429, 503)
_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


_REF = "#/components/schemas/{model}"
# The bodies are parsed by hand (see the module docstring), so their schemas are given to OpenAPI here;
# app.py adds these definitions to the document's components.
SCHEMAS: dict[str, Any] = {
    model.__name__: model.model_json_schema(ref_template=_REF)
    for model in (ChatCompletionRequest, EmbeddingsRequest)
}
for _schema in list(SCHEMAS.values()):
    SCHEMAS.update(_schema.pop("$defs", {}))


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    reference = {"$ref": _REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": reference}}}}


async def _parse(request: Request, schema: type[BaseModel]) -> dict[str, Any]:
    body = await request.body()
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidRequest(f"the body is not valid JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object")
    try:
        schema.model_validate(payload)
    except ValidationError as error:
        raise validation_error(error) from None
    return payload


def _routing_headers(backend: Backend) -> dict[str, str]:
    return {"X-Souverain-Backend": backend.name, "X-Souverain-Jurisdiction": backend.jurisdiction}


def _generated_headers(backend: Backend, model: str) -> dict[str, str]:
    return _routing_headers(backend) | marking.headers(model)


@router.get("/models", response_model=ModelList, responses=_ERRORS)
async def list_models(principal: CurrentPrincipal, services: ServicesDep) -> ModelList:
    """The models this key's tenant may use and that a backend within its residency serves."""
    models = services.router.models_for(principal.tenant)
    return ModelList(data=[Model(id=model, owned_by=services.deployment.site.name) for model in models])


@router.post(
    "/chat/completions",
    responses={
        200: {"description": "A chat completion, or server-sent events when `stream` is true."},
        **_ERRORS,
    },
    openapi_extra=_body_schema(ChatCompletionRequest),
)
async def chat_completions(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    payload = await _parse(request, ChatCompletionRequest)
    gateway = services.gateway
    level = await gateway.classify_call(
        principal, payload, request.headers.get("x-classification"), Capability.CHAT
    )
    case = principal.use_case
    reviewed = case is not None and case.spec.reviewed
    if case is not None and reviewed and payload.get("stream"):
        raise InvalidRequest(
            f"use case {case.name!r} holds every output for human review, so it cannot be streamed: send "
            "`stream: false`, then fetch the released output from the review's `result_url`",
            param="stream",
            code="review_required",
        )
    citations = None
    if "collections" in payload:
        grounded = await ground(services.recorded_knowledge, principal, level, payload)
        payload, citations, level = grounded.payload, grounded.citations, grounded.level
    if payload.get("stream"):
        stream = await gateway.stream_chat(principal, payload, level)
        events = stream.events if citations is None else _cited(citations, stream.events)
        return StreamingResponse(
            events,
            media_type="text/event-stream",
            headers={**_STREAM_HEADERS, **_generated_headers(stream.backend, payload["model"])},
        )
    answer = await gateway.chat(principal, payload, level)
    body = answer.completion.body
    if citations is not None:
        body = orjson.dumps(orjson.loads(body) | {"citations": citations})
    if reviewed:
        held = await services.reviews.hold(
            principal, "chat", payload["model"], payload["messages"], body, answer.record
        )
        return held_response(held, payload["model"], answer.disclosure or {}, chat=True)
    headers = _generated_headers(answer.backend, payload["model"])
    return Response(body, media_type="application/json", headers=headers)


async def _cited(citations: list[dict[str, Any]], events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The sources first, as an event with no choices (clients skip it like the usage event), so a UI
    can show them while the answer streams."""
    sources = {"object": "chat.completion.chunk", "choices": [], "citations": citations}
    yield b"data: " + orjson.dumps(sources) + b"\n\n"
    async for event in events:
        yield event


@router.post("/embeddings", responses=_ERRORS, openapi_extra=_body_schema(EmbeddingsRequest))
async def embeddings(request: Request, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    payload = await _parse(request, EmbeddingsRequest)
    level = await services.gateway.classify_call(
        principal, payload, request.headers.get("x-classification"), Capability.EMBEDDINGS
    )
    answer = await services.gateway.embed(principal, payload, level)
    return Response(
        answer.completion.body, media_type="application/json", headers=_routing_headers(answer.backend)
    )
