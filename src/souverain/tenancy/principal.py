"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from souverain.config import TenantConfig
from souverain.tenancy.limits.base import Bucket

if TYPE_CHECKING:  # the register records its changes in the audit log, whose events name principals
    from souverain.tenancy.usecases import UseCase


class Role(StrEnum):
    ADMIN = "admin"  # manages its tenant's keys, and calls models
    MEMBER = "member"  # calls models
    AUDITOR = "auditor"  # reads records; never calls models
    REVIEWER = "reviewer"  # approves, edits or rejects the outputs held for human review

    @property
    def calls_models(self) -> bool:
        return self in (Role.ADMIN, Role.MEMBER)


@dataclass(frozen=True)
class Principal:
    key_id: str
    key_prefix: str
    tenant: TenantConfig
    role: Role
    clearance: str
    buckets: tuple[Bucket, ...]  # the limits that apply to each of its requests: its key's, its tenant's
    use_case: UseCase | None = None  # the registered use case its key is bound to
