"""The register of use cases: what each application uses the models for, under which law and risk class.

Use cases come from the deployment file (synchronised at start, retired when removed from it) or from the
admin API. They are never deleted, only retired: audit records name them for as long as they are kept.
A key is bound to at most one; every event made with the key records it, and its rules (models, human
review) apply to every call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from souverain.config import Deployment, UseCaseConfig, use_case_problems
from souverain.errors import ConfigError, Conflict, InvalidRequest, NotFound, Problem
from souverain.governance.audit.events import Actor, AdminAction, system
from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database, aware
from souverain.store.models import UseCaseRow

Source = Literal["deployment", "api"]
_DEPLOYMENT = system("", principal="deployment")


@dataclass(frozen=True)
class UseCase:
    tenant: str
    spec: UseCaseConfig
    source: Source
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None

    @property
    def name(self) -> str:
        return self.spec.name

    @classmethod
    def of(cls, row: UseCaseRow) -> UseCase:
        return cls(
            tenant=row.tenant,
            spec=UseCaseConfig.model_validate_json(row.spec_json),
            source="api" if row.source == "api" else "deployment",
            created_at=aware(row.created_at),
            updated_at=aware(row.updated_at),
            retired_at=aware(row.retired_at) if row.retired_at else None,
        )


def _details(spec: UseCaseConfig) -> tuple[str, ...]:
    area = f"annex_iii:{spec.annex_iii}" if spec.annex_iii else "annex_iii:none"
    return (f"risk:{spec.risk}", area, f"human_review:{str(spec.reviewed).lower()}")


class UseCaseService:
    def __init__(self, database: Database, deployment: Deployment, audit: AuditLog) -> None:
        self.database = database
        self.deployment = deployment
        self.audit = audit

    async def sync(self) -> None:
        """Make the register match the deployment file's use cases: new or changed ones are written,
        removed ones retired; each change recorded. Use cases registered through the API are left."""
        now = datetime.now(UTC)
        changes: list[AdminAction] = []
        async with self.database.session() as session, session.begin():
            rows = (await session.scalars(select(UseCaseRow))).all()
            existing = {(row.tenant, row.name): row for row in rows}
            declared = set()
            for tenant in self.deployment.tenants:
                for spec in tenant.use_cases:
                    declared.add((tenant.name, spec.name))
                    row = existing.get((tenant.name, spec.name))
                    spec_json = spec.model_dump_json()
                    if row is not None and row.source == "api":
                        message = "also registered through the admin API: rename one of them"
                        raise ConfigError(
                            "the deployment file", [Problem(f"use case {spec.name!r}", message)]
                        )
                    if row is not None and row.spec_json == spec_json and row.retired_at is None:
                        continue
                    action = "use_case.declare" if row is None else "use_case.update"
                    if row is None:
                        row = UseCaseRow(
                            tenant=tenant.name, name=spec.name, source="deployment", created_at=now
                        )
                        session.add(row)
                    row.spec_json, row.updated_at, row.retired_at = spec_json, now, None
                    changes.append(self._change(tenant.name, action, spec))
            for (tenant_name, name), row in existing.items():
                if (
                    row.source == "deployment"
                    and row.retired_at is None
                    and (tenant_name, name) not in declared
                ):
                    row.retired_at = now
                    changes.append(self._change(tenant_name, "use_case.retire", UseCase.of(row).spec))
        for change in changes:
            await self.audit.record(change)

    def _change(self, tenant: str, action: str, spec: UseCaseConfig, by: Actor = _DEPLOYMENT) -> AdminAction:
        who: Actor = {**by, "tenant": tenant}
        return AdminAction(**who, action=action, target=spec.name, details=_details(spec))

    async def register(self, tenant: str, spec: UseCaseConfig, by: Actor) -> UseCase:
        """Register a use case through the API, checked by the deployment file's rules."""
        tenant_config = self.deployment.tenant(tenant)
        if tenant_config is None:
            raise NotFound(f"unknown tenant {tenant!r}", param="tenant")
        problems = use_case_problems("", spec, tenant_config)
        if problems:
            raise InvalidRequest(
                f"{problems[0].path.lstrip('.')}: {problems[0].message}", param=problems[0].path.lstrip(".")
            )
        now = datetime.now(UTC)
        async with self.database.session() as session, session.begin():
            if await session.get(UseCaseRow, (tenant, spec.name)) is not None:
                raise Conflict(
                    f"use case {spec.name!r} already exists in tenant {tenant!r} (names of retired ones "
                    "stay taken: audit records refer to them)",
                    param="name",
                )
            row = UseCaseRow(
                tenant=tenant,
                name=spec.name,
                source="api",
                spec_json=spec.model_dump_json(),
                created_at=now,
                updated_at=now,
                retired_at=None,
            )
            session.add(row)
        await self.audit.record(self._change(tenant, "use_case.register", spec, by))
        return UseCase.of(row)

    async def list(self, tenant: str | None = None, retired: bool = False) -> list[UseCase]:
        query = select(UseCaseRow).order_by(UseCaseRow.tenant, UseCaseRow.name)
        if tenant is not None:
            query = query.where(UseCaseRow.tenant == tenant)
        if not retired:
            query = query.where(UseCaseRow.retired_at.is_(None))
        async with self.database.session() as session:
            return [UseCase.of(row) for row in (await session.scalars(query)).all()]

    async def get(self, tenant: str, name: str) -> UseCase:
        async with self.database.session() as session:
            return UseCase.of(await registered(session, tenant, name))

    async def retire(self, tenant: str, name: str, by: Actor) -> UseCase:
        """Retire a use case registered through the API: keys bound to it stop working at once."""
        async with self.database.session() as session, session.begin():
            row = await registered(session, tenant, name)
            if row.source == "deployment":
                raise Conflict(
                    f"use case {name!r} is declared in the deployment file: remove it there", param="use_case"
                )
            if row.retired_at is not None:
                raise Conflict(f"use case {name!r} is already retired", param="use_case")
            row.retired_at = datetime.now(UTC)
            retired = UseCase.of(row)
        await self.audit.record(self._change(tenant, "use_case.retire", retired.spec, by))
        return retired


async def registered(session: AsyncSession, tenant: str, name: str) -> UseCaseRow:
    """The tenant's use case of that name, retired or not; NotFound names the parameter to fix."""
    row = await session.get(UseCaseRow, (tenant, name))
    if row is None:
        raise NotFound(f"no use case {name!r} in tenant {tenant!r}", param="use_case")
    return row
