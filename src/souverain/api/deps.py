"""What routes get from the composition root, and the authentication every protected route needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from souverain.config import Deployment, Settings
from souverain.errors import PermissionDenied
from souverain.gateway.metrics import Metrics
from souverain.gateway.pipeline import Gateway
from souverain.gateway.router import Router
from souverain.governance.audit.log import AuditLog
from souverain.governance.review.service import ReviewService
from souverain.knowledge.answers import Answerer
from souverain.knowledge.recorded import RecordedKnowledge
from souverain.knowledge.search import Searcher
from souverain.knowledge.service import KnowledgeService
from souverain.store.database import Database
from souverain.tenancy.keys import KeyService
from souverain.tenancy.principal import Principal, Role
from souverain.tenancy.usecases import UseCaseService


@dataclass(frozen=True)
class Services:
    settings: Settings
    deployment: Deployment
    database: Database
    keys: KeyService
    router: Router
    gateway: Gateway
    metrics: Metrics
    knowledge: KnowledgeService
    searcher: Searcher
    answerer: Answerer
    recorded_knowledge: RecordedKnowledge  # searches, answers and document changes, each recorded
    audit: AuditLog
    use_cases: UseCaseService
    reviews: ReviewService


async def services(request: Request) -> Services:
    # async, though it awaits nothing: FastAPI runs plain `def` dependencies in a thread pool, which
    # cost a fifth of the gateway's CPU per request when this was one.
    found: Services = request.app.state.services
    return found


_bearer = HTTPBearer(auto_error=False, description="An API key made by `souverain keys create`.")


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    secret = credentials.credentials if credentials else None
    found = await (await services(request)).keys.authenticate(secret)
    request.state.principal = found
    return found


async def admin(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if caller.role is not Role.ADMIN:
        raise PermissionDenied("this route needs a key with the admin role")
    return caller


async def admin_or_auditor(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if caller.role not in (Role.ADMIN, Role.AUDITOR):
        raise PermissionDenied("this route needs a key with the admin or auditor role")
    return caller


async def auditor(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    # Not admins too: who keeps the keys should not also be who reads the record of their use.
    if caller.role is not Role.AUDITOR:
        raise PermissionDenied("this route needs a key with the auditor role")
    return caller


async def reviewer(caller: Annotated[Principal, Depends(principal)]) -> Principal:
    if caller.role is not Role.REVIEWER:
        raise PermissionDenied("this route needs a key with the reviewer role")
    return caller


CurrentPrincipal = Annotated[Principal, Depends(principal)]
CurrentAdmin = Annotated[Principal, Depends(admin)]
CurrentAdminOrAuditor = Annotated[Principal, Depends(admin_or_auditor)]
CurrentAuditor = Annotated[Principal, Depends(auditor)]
CurrentReviewer = Annotated[Principal, Depends(reviewer)]
ServicesDep = Annotated[Services, Depends(services)]
