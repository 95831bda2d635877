"""Tables of the store. Changes here need an Alembic migration in `migrations/versions/`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TenantRow(Base):
    """A tenant as last synchronised from the deployment file; kept so keys outlive config edits."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    residency: Mapped[str] = mapped_column(Text)  # JSON list, for the record and for operators' queries
    max_classification: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(32))
    clearance: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the whole key: keys are 256-bit random, so a slow password hash would add nothing.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    requests_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    requests_per_day: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tokens_per_minute: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    tokens_per_day: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class RateCounterRow(Base):
    """Requests and tokens counted in one fixed window, shared by all server processes."""

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)  # "key:<id>" or "tenant:<name>"
    window_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
