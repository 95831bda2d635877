"""Request and response bodies of the API (OpenAI's protocol, and souverain's admin API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from souverain.config import Limits, UseCaseConfig
from souverain.governance.audit.search import LAST_SEQ, MAX_PAGE
from souverain.governance.review.service import Decision
from souverain.governance.review.service import Status as ReviewStatus
from souverain.tenancy.keys import MAX_EXPIRY_DAYS


class _Open(BaseModel):
    # Unknown fields are kept and passed to the backend: servers such as vLLM accept extra parameters.
    # Strict, because the body is forwarded as received: "yes" must not pass for a boolean here and
    # then reach the backend as a string.
    model_config = ConfigDict(extra="allow", strict=True)


class TextPart(_Open):
    type: str
    text: str | None = None


class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[TextPart] | None = None


class StreamOptions(_Open):
    include_usage: bool = False


class ChatCompletionRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    n: int | None = Field(None, ge=1, le=128)
    collections: list[str] | None = Field(
        None,
        min_length=1,
        description="souverain extension: answer from these collections' passages; the response lists "
        "them in `citations`.",
    )


class EmbeddingsRequest(_Open):
    model: str = Field(min_length=1, max_length=256)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(None, ge=1)
    input_type: Literal["query", "passage", "document"] | None = Field(
        None, description="souverain extension: the embedded e5 model's prefix (default `query`)."
    )


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: str = Field(description="admin, member or auditor.")
    clearance: str | None = Field(None, description="Highest classification the key may use.")
    expires_in_days: float | None = Field(None, gt=0, le=MAX_EXPIRY_DAYS)
    name: str = Field(
        "", max_length=200, pattern=r"^[^\x00-\x1f]*$", description="A label to recognise the key by."
    )
    limits: Limits = Field(default_factory=Limits)
    use_case: str | None = Field(None, description="Registered use case of the tenant its calls serve.")


class Key(BaseModel):
    id: str
    tenant: str
    name: str
    role: str
    clearance: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    limits: Limits
    use_case: str | None


class CreatedKey(Key):
    key: str = Field(description="The secret. Shown once; store it now.")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Key]


class UseCase(UseCaseConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str
    source: Literal["deployment", "api"] = Field(description="Where it was declared.")
    human_review_required: bool = Field(description="Whether its outputs wait for a reviewer.")
    created_at: datetime
    updated_at: datetime
    retired_at: datetime | None


class UseCaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[UseCase]


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error envelope, so clients see what each route may answer."""
    schema = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    name: {"type": ["string", "null"]} for name in ("message", "type", "param", "code")
                },
            }
        },
    }
    return {
        status: {"description": "Error", "content": {"application/json": {"schema": schema}}}
        for status in statuses
    }


class CollectionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", description="Unique in the tenant.")
    classification: str | None = Field(
        None, description="Level of its documents at least. Default: the lowest."
    )
    description: str = Field("", max_length=2000)


class Collection(BaseModel):
    name: str
    description: str
    classification: str
    documents: int
    created_at: datetime


class CollectionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Collection]


class DocumentText(BaseModel):
    """A document sent as text (JSON) rather than as a file."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    title: str | None = Field(None, max_length=1000)
    filename: str = Field("", max_length=1000, description="Ending in .md for Markdown.")
    classification: str | None = Field(None, description="May raise the collection's level, never lower it.")
    metadata: dict[str, Any] | None = None


class Document(BaseModel):
    id: str
    collection: str
    title: str
    filename: str
    media_type: str
    classification: str
    language: str
    size_bytes: int
    pages: int | None
    text_chars: int
    metadata: dict[str, Any]
    created_at: datetime


class Ingestion(Document):
    status: Literal["added", "unchanged"] = Field(description="`unchanged`: these bytes were already there.")
    chunks: int


class DocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Document]


class Chunk(BaseModel):
    id: int
    ordinal: int
    text: str
    page: int | None
    start: int
    end: int
    heading: str


class ChunkList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Chunk]


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="A question or keywords, in any language.")
    collections: list[str] = Field(min_length=1)
    limit: int = Field(10, ge=1, le=100)


class SearchHit(BaseModel):
    document_id: str
    title: str
    chunk_id: int
    page: int | None
    heading: str
    text: str
    start: int
    end: int
    lexical_rank: int | None = Field(description="Rank in the full-text results; null when not among them.")
    vector_rank: int | None = Field(description="Rank in the vector results; null when not among them.")
    score: float = Field(description="The fused score: both retrievers' normalised scores, weighted.")


class SearchResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[SearchHit]


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(description="In any language; the answer comes in the same one.")
    collections: list[str] = Field(min_length=1)
    model: str | None = Field(
        None, description="A generative model. Default: the deployment's, else extractive."
    )


class CitationOut(BaseModel):
    n: int
    document_id: str
    title: str
    page: int | None
    quote: str = Field(description="The cited words, verbatim from the document.")
    start: int = Field(description="Where the quote starts in the document's extracted text.")
    end: int


class SentenceOut(BaseModel):
    text: str
    citations: list[int]
    supported: bool = Field(description="Whether the cited passages back the sentence.")


class AnswerResponse(BaseModel):
    id: str
    object: Literal["answer"] = "answer"
    answer: str
    citations: list[CitationOut]
    sentences: list[SentenceOut]
    abstained: bool = Field(description="True when the documents do not say.")
    classification: str = Field(description="The highest level of the sources used.")
    model: str | None
    backend: str | None
    jurisdiction: str | None
    souverain: dict[str, Any] = Field(
        description="The marking as AI-generated: `ai_generated`, the model (`extractive` for quoted "
        "sentences), backend, jurisdiction, use case."
    )


# --- the audit API ----------------------------------------------------------------------------------


class AuditPeriodQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime | None = Field(
        None, alias="from", description="First moment included, ISO 8601 (UTC when it has no offset)."
    )
    end: datetime | None = Field(None, alias="to", description="First moment excluded, ISO 8601.")


class AuditRecordQuery(AuditPeriodQuery):
    tenant: str | None = Field(None, min_length=1, max_length=63, description="The key's own tenant only.")
    principal: str | None = Field(None, min_length=1, max_length=64, description="An API key's id.")
    use_case: str | None = Field(None, min_length=1, max_length=100)
    kind: str | None = Field(None, min_length=1, max_length=40, description="e.g. model_call, audit_access.")
    status: str | None = Field(None, min_length=1, max_length=64, description="ok, or an error's code.")
    decision: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="A policy decision (`refused:residency_violation`), or every one of a kind (`route:`).",
    )
    after: int = Field(0, ge=0, le=LAST_SEQ, description="The cursor: the `next_after` of the page before.")
    limit: int = Field(100, ge=1, le=MAX_PAGE)


class AuditRecord(BaseModel):
    seq: int
    at: datetime
    kind: str
    tenant: str
    principal: str
    use_case: str | None
    status: str
    prev_hash: str
    hash: str
    body: dict[str, Any] | None = Field(
        description="The event as hashed: who, what, how it went, the policy decisions. Null when the "
        "stored content is not a JSON object (it was changed: see `/audit/verify`)."
    )


class AuditRecordList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditRecord]
    next_after: int | None = Field(description="`after` for the next page; null on the last page.")


class AuditVerdict(BaseModel):
    intact: bool
    records: int = Field(description="Records of the site's chain found intact, in order from the first.")
    first_bad_seq: int | None = Field(None, description="The first record found changed, missing or moved.")
    problem: str | None = Field(None, description="What is wrong with it (never what it holds).")


class AuditPublicKey(BaseModel):
    site: str
    algorithm: Literal["Ed25519"] = "Ed25519"
    pem: str = Field(description="For `souverain audit verify --file EXPORT --public-key FILE`.")
    fingerprint: str


# --- human review -----------------------------------------------------------------------------------


class ReviewDecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: str | None = Field(
        None, max_length=4000, description="Why; required to edit or reject. Shown to the caller."
    )
    content: str | None = Field(
        None, max_length=200_000, description="For `edit`: the text released instead of the model's."
    )


class ReviewOut(BaseModel):
    id: str
    object: Literal["review"] = "review"
    use_case: str
    endpoint: str = Field(description="`chat` or `answers`: the shape of the output.")
    model: str
    status: ReviewStatus
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    reviewer: str | None = Field(description="The reviewer key's id.")
    reason: str | None
    waited_seconds: float = Field(description="From held to decided, or to now while pending.")
    erased: bool = Field(description="True once the content was erased after the use case's retention.")
    request: Any = Field(description="What was asked: the messages, or the question.")
    output: Any = Field(description="The model's response, as it would have been sent.")
    released: Any = Field(description="What the caller receives: the output, or the reviewer's edit.")


class ReviewList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ReviewOut]
