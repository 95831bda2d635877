"""Tables of the store. Changes here need an Alembic migration in `migrations/versions/`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Vectors: pgvector's type on PostgreSQL (searched by its HNSW index), float32 bytes on SQLite (searched
# in memory with numpy). Unconstrained in size: the embedding model, and so the size, is the deployment's.
EMBEDDING = Vector().with_variant(LargeBinary(), "sqlite")


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
    # The registered use case every call with this key serves; recorded in each of its audit events.
    use_case: Mapped[str | None] = mapped_column(String(100), nullable=True)


class UseCaseRow(Base):
    """A registered use case, from the deployment file or the admin API. Never deleted, only retired:
    audit records name it for as long as they are kept."""

    __tablename__ = "use_cases"

    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # "deployment" or "api"
    spec_json: Mapped[str] = mapped_column(Text)  # the UseCaseConfig as declared
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RateCounterRow(Base):
    """Requests and tokens counted in one fixed window, shared by all server processes."""

    __tablename__ = "rate_counters"

    scope: Mapped[str] = mapped_column(String(100), primary_key=True)  # "key:<id>" or "tenant:<name>"
    window_seconds: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)


class CollectionRow(Base):
    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("tenant", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(ForeignKey("tenants.name"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Bumped on every change of its documents: in-memory search structures compare it to stay current.
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class DocumentRow(Base):
    __tablename__ = "documents"
    # The same bytes twice in one collection are one document: concurrent uploads of a file agree.
    __table_args__ = (UniqueConstraint("collection_id", "content_hash"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    collection_id: Mapped[str] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(Text, default="")
    media_type: Mapped[str] = mapped_column(String(128))
    content_hash: Mapped[str] = mapped_column(String(64))
    classification: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="")
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    text_chars: Mapped[int] = mapped_column(BigInteger, default=0)
    metadata_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChunkRow(Base):
    """A passage of a document, with where it stands in the extracted text, for citations."""

    __tablename__ = "chunks"
    __table_args__ = (Index("ix_chunks_scope", "tenant", "collection_id", "classification"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(String(32))
    tenant: Mapped[str] = mapped_column(String(63))
    classification: Mapped[str] = mapped_column(String(64))
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    page: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start: Mapped[int] = mapped_column(BigInteger)  # character span in the document's extracted text
    end: Mapped[int] = mapped_column(BigInteger)
    heading: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    embedding: Mapped[Any] = mapped_column(EMBEDDING)


class AnswerRow(Base):
    """What an answer was built from, so anyone may later ask why it says what it says."""

    __tablename__ = "answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    classification: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    explanation_json: Mapped[str] = mapped_column(Text)


class AuditRecordRow(Base):
    """One record of the audit log's hash chain. `body` is the canonical JSON that was hashed, and the
    source of truth; the other columns repeat some of its fields so that records can be searched, and
    verification checks that they agree with it."""

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_tenant_at", "tenant", "at"),)

    # The position in the chain: unique, so two writers can never both extend the same record.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    tenant: Mapped[str] = mapped_column(String(63))
    principal: Mapped[str] = mapped_column(String(64))
    use_case: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's last record, one row: every append locks it first, so appends from any number of
    processes take turns (a row lock on PostgreSQL, the write lock on SQLite) and never fork the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class ReviewRow(Base):
    """An output held for human review. Its content is sealed (AES-GCM under a key derived from the
    site's audit key) and erased once the use case's retention has passed after the decision."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_waiting", "tenant", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    use_case: Mapped[str] = mapped_column(String(100))
    requester: Mapped[str] = mapped_column(String(64))  # the key that asked
    endpoint: Mapped[str] = mapped_column(String(16))  # "chat" or "answers"
    model: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # pending, approved, edited, rejected, expired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reviewer: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    record: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # its model call's audit record
    retention_days: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    erase_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    request: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed: what was asked
    output: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed: what the model said
    released: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # sealed: what was released


class SubjectMentionRow(Base):
    """A data subject (a keyed hash of an identifier, e-mail, phone number or name, never the value)
    mentioned by a document and one of its chunks, or by a stored answer or review: what a request for
    access or erasure looks up."""

    __tablename__ = "subject_mentions"
    __table_args__ = (Index("ix_subject_mentions_subject", "tenant", "subject"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(63))
    subject: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    chunk_id: Mapped[int | None] = mapped_column(
        ForeignKey("chunks.id", ondelete="CASCADE"), nullable=True, index=True
    )
    answer_id: Mapped[str | None] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    review_id: Mapped[str | None] = mapped_column(
        ForeignKey("reviews.id", ondelete="CASCADE"), nullable=True, index=True
    )
