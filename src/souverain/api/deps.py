"""What routes get from the composition root, and the authentication every protected route needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
from souverain.governance.audit.reader import AuditReader
from souverain.governance.review.service import ReviewService
from souverain.knowledge.answers import Answerer
from souverain.knowledge.recorded import RecordedKnowledge
from souverain.knowledge.search import Searcher
from souverain.knowledge.service import KnowledgeService
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.requests import SubjectRequests
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
    audit_reader: AuditReader
    reviews: ReviewService
    subject_requests: SubjectRequests  # data subjects' access and erasure
    analyzer: Analyzer  # personal data in texts, built once: recognizers may load models


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


def _role(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits keys of these roles only."""
    needed = " or ".join(role.value for role in roles)

    async def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise PermissionDenied(f"this route needs a key with the {needed} role")
        return caller

    return check


CurrentPrincipal = Annotated[Principal, Depends(principal)]
CurrentAdmin = Annotated[Principal, Depends(_role(Role.ADMIN))]
CurrentAdminOrAuditor = Annotated[Principal, Depends(_role(Role.ADMIN, Role.AUDITOR))]
# Not admins too: who keeps the keys should not also be who reads the record of their use.
auditor = _role(Role.AUDITOR)
CurrentAuditor = Annotated[Principal, Depends(auditor)]
CurrentReviewer = Annotated[Principal, Depends(_role(Role.REVIEWER))]
ServicesDep = Annotated[Services, Depends(services)]
