"""Human review over HTTP: what reviewers see and decide, and how a caller fetches what was released.

A call of a use case that requires review gets HTTP 202 and a review id instead of the output; the
output is released by `GET /v1/reviews/{id}/result` once a reviewer approved or edited it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Response

from souverain.api.deps import CurrentPrincipal, CurrentReviewer, ServicesDep
from souverain.api.errors import json_response
from souverain.api.schemas import ReviewDecisionRequest, ReviewList, ReviewOut, error_responses
from souverain.errors import Conflict, Gone
from souverain.gateway import marking
from souverain.governance.review.service import MAX_PAGE, Held, Review, Status

router = APIRouter(prefix="/v1/reviews", tags=["Human review"], responses=error_responses(400, 401, 403, 404))


def result_path(review_id: str) -> str:
    return f"/v1/reviews/{review_id}/result"


def held_response(held: Held, model: str, block: dict[str, Any], chat: bool) -> Response:
    """202 Accepted: the output exists and waits for a reviewer; where and until when to fetch it.

    For chat completions the body keeps the protocol's shape with no choices, so that a client that
    ignores the status fails loudly on `choices[0]` instead of showing an empty answer as one."""
    review = {
        "id": held.id,
        "status": "pending",
        "expires_at": held.expires_at.isoformat(timespec="seconds"),
        "result_url": result_path(held.id),
    }
    body: dict[str, Any]
    if chat:
        body = {"id": held.id, "object": "chat.completion", "created": int(time.time()), "model": model}
        body["choices"] = []
    else:
        body = {"id": held.id, "object": "review", "status": "pending"}
    body["souverain"] = {**block, "review": review}
    headers = {"Location": result_path(held.id), "X-Souverain-Review": held.id, **marking.headers(model)}
    return json_response(body, 202, headers)


def _out(review: Review) -> ReviewOut:
    return ReviewOut.model_validate(review, from_attributes=True)


@router.get("", response_model=ReviewList)
async def list_reviews(
    reviewer: CurrentReviewer,
    services: ServicesDep,
    status: Status = "pending",
    use_case: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=MAX_PAGE),
) -> ReviewList:
    """What waits for review in the reviewer's tenant (its use case only, for a key bound to one),
    oldest first."""
    found = await services.reviews.waiting(reviewer, status, use_case, limit)
    return ReviewList(data=[_out(review) for review in found])


@router.get("/{review_id}", response_model=ReviewOut)
async def get_review(review_id: str, reviewer: CurrentReviewer, services: ServicesDep) -> ReviewOut:
    return _out(await services.reviews.get(reviewer, review_id))


@router.post("/{review_id}/decision", response_model=ReviewOut, responses=error_responses(409, 410))
async def decide(
    review_id: str, body: ReviewDecisionRequest, reviewer: CurrentReviewer, services: ServicesDep
) -> ReviewOut:
    """Approve, edit (release `content` instead) or reject, with a reason for edit and reject. Once
    only: a second decision gets 409, one after the expiry 410."""
    decided = await services.reviews.decide(reviewer, review_id, body.decision, body.reason, body.content)
    return _out(decided)


@router.get(
    "/{review_id}/result",
    responses={
        200: {"description": "The released output: a chat completion, or an answer."},
        202: {"description": "Still waiting for a reviewer."},
        **error_responses(409, 410),
    },
)
async def result(review_id: str, caller: CurrentPrincipal, services: ServicesDep) -> Response:
    """For the key that made the call (or a key of the same use case): the output once released."""
    review = await services.reviews.result(caller, review_id)
    if review.status == "pending":
        waiting = {"id": review.id, "object": "review", "status": "pending"}
        waiting["expires_at"] = review.expires_at.isoformat(timespec="seconds")
        return json_response(waiting, 202, {"Retry-After": "30"})
    if review.status == "rejected":
        raise Conflict(f"a reviewer rejected this output: {review.reason}", code="review_rejected")
    if review.status == "expired":
        raise Gone("no reviewer decided in time: the output was never released", code="review_expired")
    if review.released is None:
        raise Gone("this review's content was erased after its retention", code="review_erased")
    released = dict(review.released)
    decision = {"id": review.id, "decision": review.status, "reviewer": review.reviewer}
    decision["decided_at"] = review.decided_at.isoformat(timespec="seconds") if review.decided_at else None
    released["souverain"] = {**released.get("souverain", {}), "review": decision}
    return json_response(released, 200, marking.headers(review.model))
