"""The admin API: an admin key manages the keys and use cases of its own tenant. Every change is an
audit event."""

from __future__ import annotations

from fastapi import APIRouter, status

from souverain.api.deps import CurrentAdmin, ServicesDep
from souverain.api.schemas import (
    CreatedKey,
    Key,
    KeyCreate,
    KeyList,
    UseCase,
    UseCaseList,
    error_responses,
)
from souverain.config import UseCaseConfig
from souverain.governance.audit.events import actor
from souverain.tenancy.keys import KeyInfo
from souverain.tenancy.usecases import UseCase as RegisteredUseCase

router = APIRouter(prefix="/admin", tags=["Admin"], responses=error_responses(400, 401, 403, 404, 409))


def _key(info: KeyInfo) -> Key:
    return Key.model_validate(info, from_attributes=True)


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=CreatedKey)
async def create_key(body: KeyCreate, admin: CurrentAdmin, services: ServicesDep) -> CreatedKey:
    """Create a key in the caller's tenant, with at most the caller's clearance. The secret is in the
    response, once."""
    info, secret = await services.keys.create(
        by=actor(admin),
        tenant=admin.tenant.name,
        role=body.role,
        clearance=body.clearance,
        expires_in_days=body.expires_in_days,
        name=body.name,
        limits=body.limits,
        creator_clearance=admin.clearance,
        use_case=body.use_case,
    )
    return CreatedKey(**_key(info).model_dump(), key=secret)


@router.get("/keys", response_model=KeyList)
async def list_keys(admin: CurrentAdmin, services: ServicesDep) -> KeyList:
    return KeyList(data=[_key(info) for info in await services.keys.list(admin.tenant.name)])


@router.delete("/keys/{key_id}", response_model=Key)
async def revoke_key(key_id: str, admin: CurrentAdmin, services: ServicesDep) -> Key:
    """Revoke a key of the caller's tenant; it stops working at once in this process."""
    return _key(await services.keys.revoke(key_id, actor(admin), tenant=admin.tenant.name))


def _use_case(case: RegisteredUseCase) -> UseCase:
    return UseCase(
        **case.spec.model_dump(),
        tenant=case.tenant,
        source=case.source,
        human_review_required=case.spec.reviewed,
        created_at=case.created_at,
        updated_at=case.updated_at,
        retired_at=case.retired_at,
    )


@router.post("/use-cases", status_code=status.HTTP_201_CREATED, response_model=UseCase)
async def register_use_case(body: UseCaseConfig, admin: CurrentAdmin, services: ServicesDep) -> UseCase:
    """Register a use case of the caller's tenant, under the deployment file's rules: a high-risk one
    names its Annex III area and always has human review."""
    return _use_case(await services.use_cases.register(admin.tenant.name, body, actor(admin)))


@router.get("/use-cases", response_model=UseCaseList)
async def list_use_cases(admin: CurrentAdmin, services: ServicesDep, retired: bool = False) -> UseCaseList:
    """The tenant's register; with `retired=true`, retired use cases too."""
    cases = await services.use_cases.list(admin.tenant.name, retired=retired)
    return UseCaseList(data=[_use_case(case) for case in cases])


@router.get("/use-cases/{name}", response_model=UseCase)
async def get_use_case(name: str, admin: CurrentAdmin, services: ServicesDep) -> UseCase:
    return _use_case(await services.use_cases.get(admin.tenant.name, name))


@router.delete("/use-cases/{name}", response_model=UseCase)
async def retire_use_case(name: str, admin: CurrentAdmin, services: ServicesDep) -> UseCase:
    """Retire a use case registered through the API; keys bound to it stop working at once here, and
    within SOUVERAIN_KEY_CACHE_SECONDS elsewhere. Its name stays taken: records refer to it."""
    retired = await services.use_cases.retire(admin.tenant.name, name, actor(admin))
    services.keys.forget_use_case(admin.tenant.name, name)
    return _use_case(retired)
