"""Answers with verified citations, and why an answer says what it says."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request, Response

from souverain.api.deps import CurrentPrincipal, ServicesDep
from souverain.api.routes.knowledge import Writer
from souverain.api.routes.reviews import held_response
from souverain.api.schemas import AnswerRequest, AnswerResponse, CitationOut, SentenceOut, error_responses
from souverain.gateway import marking
from souverain.knowledge.answers import EXTRACTIVE

router = APIRouter(prefix="/v1", tags=["Knowledge"], responses=error_responses(400, 401, 403, 404, 503))


@router.post(
    "/answers",
    response_model=AnswerResponse,
    responses={202: {"description": "Held for human review (the use case requires it): see `result_url`."}},
)
async def answer(
    body: AnswerRequest,
    request: Request,
    response: Response,
    caller: CurrentPrincipal,
    services: ServicesDep,
) -> AnswerResponse | Response:
    """Answer from the named collections: each sentence cites its passage, or the answer abstains. Marked
    as AI-generated like every output, extractive ones included: a program chose the sentences."""
    result = await services.recorded_knowledge.answer(
        caller, request.headers.get("x-classification"), body.question, body.collections, body.model
    )
    model = result.model or EXTRACTIVE
    site = services.deployment.site
    response.headers.update(marking.headers(model))
    case = caller.use_case.name if caller.use_case else None
    answered = AnswerResponse(
        id=result.id,
        answer=result.answer,
        citations=[CitationOut(**asdict(citation)) for citation in result.citations],
        sentences=[
            SentenceOut(text=sentence.text, citations=sentence.citations, supported=sentence.supported)
            for sentence in result.sentences
        ],
        abstained=result.abstained,
        classification=result.classification,
        model=result.model,
        backend=result.backend,
        jurisdiction=result.jurisdiction,
        souverain=marking.disclosure(
            model, result.backend or site.name, result.jurisdiction or site.jurisdiction, case
        ),
    )
    if caller.use_case is not None and caller.use_case.spec.reviewed:
        output = answered.model_dump_json().encode()
        held = await services.reviews.hold(caller, "answers", model, body.question, output, None)
        return held_response(held, model, answered.souverain, chat=False)
    return answered


@router.get("/answers/{answer_id}/explanation")
async def explanation(answer_id: str, caller: Writer, services: ServicesDep) -> dict[str, Any]:
    """The candidates each retriever found with their ranks and scores, what was kept, the prompt
    template, model, backend and jurisdiction, and the verification of each sentence."""
    return await services.answerer.explanation(caller, answer_id)
