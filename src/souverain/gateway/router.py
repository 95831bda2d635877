"""The residency-aware router: which backends may receive a request, and in which order to try them.

Policy first, then health: a backend outside the tenant's residency or below the request's
classification is never a candidate, whatever its health. Among the allowed ones, those whose circuit
is closed are tried least-loaded first.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from souverain import jurisdictions
from souverain.config import BackendConfig, Deployment, TenantConfig
from souverain.engines.base import Capability, Engine
from souverain.errors import (
    BackendUnavailable,
    ClassificationViolation,
    ModelNotFound,
    ResidencyViolation,
)
from souverain.gateway.breaker import CircuitBreaker


@dataclass(eq=False)
class Backend:
    """A configured backend at run time: its engine, health and load."""

    config: BackendConfig
    engine: Engine
    jurisdiction: str
    ceiling_rank: int
    breaker: CircuitBreaker
    in_flight: int = field(default=0)

    @property
    def name(self) -> str:
        return self.config.name


class Router:
    def __init__(self, deployment: Deployment, backends: Iterable[Backend]) -> None:
        self.deployment = deployment
        self.backends = list(backends)
        self._allowed: dict[tuple[str, str, Capability, bool], list[Backend]] = {}

    def models_for(self, tenant: TenantConfig, capability: Capability | None = None) -> list[str]:
        """The tenant's models that at least one backend in its residency serves (healthy or not)."""
        return [model for model in tenant.models if self._in_residency(tenant, model, capability)]

    def _serving(self, model: str, capability: Capability | None) -> list[Backend]:
        return [
            backend
            for backend in self.backends
            if model in backend.config.models
            and (capability is None or capability in backend.engine.capabilities)
        ]

    def _in_residency(self, tenant: TenantConfig, model: str, capability: Capability | None) -> list[Backend]:
        admitted = jurisdictions.expand(tenant.residency)
        return [backend for backend in self._serving(model, capability) if backend.jurisdiction in admitted]

    def candidates(
        self, tenant: TenantConfig, model: str, capability: Capability, level: str
    ) -> list[Backend]:
        """The backends to try for this request, best first; raises when there are none."""
        return self.healthy_first(self.allowed(tenant, model, capability, level), model)

    def allowed(
        self, tenant: TenantConfig, model: str, capability: Capability, level: str, *, platform: bool = False
    ) -> list[Backend]:
        """The backends policy allows for this request, healthy or not; raises when there are none.

        `platform` calls are souverain's own (embedding a tenant's documents): the model need not be in
        the tenant's list, but residency and classification apply all the same."""
        key = (tenant.name, model, capability, platform)
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = self._allowed[key] = self._policy_allowed(tenant, model, capability, platform)
        rank = self.deployment.rank(level)
        cleared = [backend for backend in allowed if backend.ceiling_rank >= rank]
        if not cleared:
            raise ClassificationViolation(
                f"no backend for model {model!r} in tenant {tenant.name!r}'s residency "
                f"{tenant.residency} may receive data classified {level}",
                param="X-Classification",
            )
        return cleared

    def healthy_first(self, allowed: list[Backend], model: str) -> list[Backend]:
        """The allowed backends worth trying now, least loaded first; raises when every one is failing."""
        available = [backend for backend in allowed if backend.breaker.available()]
        if not available:
            raise BackendUnavailable(f"every backend allowed for model {model!r} is failing; retry later")
        # Least loaded first; shuffling first spreads ties instead of always picking the first declared.
        random.shuffle(available)
        available.sort(key=lambda backend: backend.in_flight)
        return available

    def _policy_allowed(
        self, tenant: TenantConfig, model: str, capability: Capability, platform: bool
    ) -> list[Backend]:
        if model not in tenant.models and not platform:
            raise ModelNotFound(
                f"model {model!r} does not exist or is not available to tenant {tenant.name!r}", param="model"
            )
        if not self._serving(model, capability):
            if self._serving(model, None):
                raise ModelNotFound(f"model {model!r} does not support {capability.value}", param="model")
            raise ModelNotFound(f"model {model!r} does not exist", param="model")
        allowed = self._in_residency(tenant, model, capability)
        if not allowed:
            raise ResidencyViolation(
                f"model {model!r} is not served within tenant {tenant.name!r}'s residency {tenant.residency}",
                param="model",
            )
        return allowed


def build_backend(
    deployment: Deployment, config: BackendConfig, engine: Engine, breaker: CircuitBreaker
) -> Backend:
    return Backend(
        config=config,
        engine=engine,
        jurisdiction=deployment.jurisdiction_of(config),
        ceiling_rank=deployment.rank(deployment.ceiling(config.max_classification)),
        breaker=breaker,
    )
