"""The admin API: an admin key manages the keys of its own tenant."""

from __future__ import annotations

from fastapi import APIRouter, status

from souverain.api.deps import CurrentAdmin, ServicesDep
from souverain.api.schemas import CreatedKey, Key, KeyCreate, KeyList, error_responses
from souverain.tenancy.keys import KeyInfo

router = APIRouter(prefix="/admin", tags=["Admin"], responses=error_responses(400, 401, 403, 404))


def _key(info: KeyInfo) -> Key:
    return Key.model_validate(info, from_attributes=True)


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=CreatedKey)
async def create_key(body: KeyCreate, admin: CurrentAdmin, services: ServicesDep) -> CreatedKey:
    """Create a key in the caller's tenant, with at most the caller's clearance. The secret is in the
    response, once."""
    info, secret = await services.keys.create(
        tenant=admin.tenant.name,
        role=body.role,
        clearance=body.clearance,
        expires_in_days=body.expires_in_days,
        name=body.name,
        limits=body.limits,
        creator_clearance=admin.clearance,
    )
    return CreatedKey(**_key(info).model_dump(), key=secret)


@router.get("/keys", response_model=KeyList)
async def list_keys(admin: CurrentAdmin, services: ServicesDep) -> KeyList:
    return KeyList(data=[_key(info) for info in await services.keys.list(admin.tenant.name)])


@router.delete("/keys/{key_id}", response_model=Key)
async def revoke_key(key_id: str, admin: CurrentAdmin, services: ServicesDep) -> Key:
    """Revoke a key of the caller's tenant; it stops working at once in this process."""
    return _key(await services.keys.revoke(key_id, tenant=admin.tenant.name))
