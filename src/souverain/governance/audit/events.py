"""What the audit log records: one class per kind of event, never free text.

Events say who (tenant, principal, role, use case), what (kind, model, backend, jurisdiction, the
policy decisions taken) and how it went (status, tokens, latency). Content appears only as keyed hashes
(see `ContentHasher`), so the log proves what was sent without holding it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict

if TYPE_CHECKING:
    from souverain.tenancy.principal import Principal


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str]

    tenant: str
    principal: str  # the API key's id; "cli" or "system" for what the platform does on its own
    role: str
    use_case: str | None = None
    status: str = "ok"  # or the error code the caller received

    def fields(self) -> dict[str, Any]:
        # A shallow read: dataclasses.asdict deep-copies every value, 70 µs a record (a third of the
        # cost of auditing a call); the values are immutable anyway.
        names = _NAMES.get(type(self))
        if names is None:
            names = _NAMES[type(self)] = tuple(field.name for field in fields(self))
        return {"kind": self.kind} | {name: getattr(self, name) for name in names}


class Actor(TypedDict):
    tenant: str
    principal: str
    role: str
    use_case: str | None


_NAMES: dict[type[Event], tuple[str, ...]] = {}


def actor(principal: Principal) -> Actor:
    """The who of an event made on behalf of an API key."""
    case = principal.use_case
    return {
        "tenant": principal.tenant.name,
        "principal": principal.key_id,
        "role": principal.role.value,
        "use_case": case.name if case else None,
    }


@dataclass(frozen=True, kw_only=True)
class ModelCall(Event):
    """A chat completion or embeddings request, answered or refused."""

    kind: ClassVar[str] = "model_call"

    endpoint: str  # "chat" or "embeddings"
    model: str
    classification: str
    backend: str | None = None  # None when refused before any backend was contacted
    jurisdiction: str | None = None
    streamed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: float = 0.0
    input_hash: str | None = None
    output_hash: str | None = None
    decisions: tuple[str, ...] = ()  # e.g. "route:mistral-lu" or the refusal's code
    # The personal-data policy's decisions, by type, never a value: "PERSON:pseudonymise", "IBAN:block",
    # and "output:PHONE:mask" for what the model wrote that the input did not hold.
    personal_data: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AuditAccess(Event):
    """An auditor's read of the log through the API: what was asked, never what was found."""

    kind: ClassVar[str] = "audit_access"

    action: str  # "search", "export" or "verify"
    query: Mapping[str, str | int]  # the filters given, as understood; a dict, which orjson writes


class ContentHasher:
    """HMAC-SHA256 of content under the site's audit key.

    A plain hash of a short prompt ("Is Jean Dupont's claim approved?") can be found again by trying
    candidate texts; keyed, it can only be checked by someone who holds the key and the text."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, content: bytes) -> str:
        return hmac.new(self._key, content, hashlib.sha256).hexdigest()

    def incremental(self) -> hmac.HMAC:
        """For content that arrives in pieces (a streamed answer)."""
        return hmac.new(self._key, digestmod=hashlib.sha256)


@dataclass(frozen=True, kw_only=True)
class AdminAction(Event):
    """A change to who may do what: keys made or revoked, use cases registered or retired."""

    kind: ClassVar[str] = "admin_action"

    action: str  # "key.create", "key.revoke", "use_case.register", "use_case.retire", ...
    target: str  # the key's id or the use case's name
    details: tuple[str, ...] = ()  # what was set, e.g. "role:member", "risk:high"; never a secret


OPERATOR = "cli"  # the principal of what the site's operator does through the `souverain` command


def operator(tenant: str) -> Actor:
    """The who of an action taken by the operator on the command line, on behalf of a tenant."""
    return {"tenant": tenant, "principal": OPERATOR, "role": "operator", "use_case": None}


def system(tenant: str, principal: str = "system", use_case: str | None = None) -> Actor:
    """The who of what the platform does on its own: expiring a review, following the deployment file."""
    return {"tenant": tenant, "principal": principal, "role": "system", "use_case": use_case}


@dataclass(frozen=True, kw_only=True)
class ReviewStep(Event):
    """An output held for human review, and each thing that became of it."""

    kind: ClassVar[str] = "review"

    action: str  # "held", "approved", "edited", "rejected", "expired", "released"
    review: str  # the review's id
    model: str
    call_record: int | None = None  # the seq of the model call whose output is held
    waited_seconds: float | None = None  # from held to decided (or expired)
    reason_hash: str | None = None  # the reviewer's reason, keyed: it may name the person concerned
    output_hash: str | None = None  # what an editing reviewer released instead of the model's text


# --- the knowledge module: searches, answers, changes to documents -------------------------------------
# Identifiers (collection names, document and chunk ids, a document's SHA-256) are recorded as they are;
# questions, answers, titles and file names, which can name people, never are.


@dataclass(frozen=True, kw_only=True)
class KnowledgeSearch(Event):
    """A search of a tenant's collections, through `/v1/search` or for the passages of a chat completion."""

    kind: ClassVar[str] = "search"

    endpoint: str  # "search", or "chat" when the passages are put in front of a chat completion's model
    collections: tuple[str, ...]
    classification: str  # the request's level; the results are limited to the key's clearance
    query_hash: str  # keyed, see ContentHasher
    results: int = 0
    chunk_ids: tuple[int, ...] = ()  # the passages returned, best first
    latency_ms: float = 0.0
    decisions: tuple[str, ...] = ()  # the refusal's code, "refused:not_found"


@dataclass(frozen=True, kw_only=True)
class KnowledgeAnswer(Event):
    """An answer from a tenant's documents (`/v1/answers`). A generative model's call has a record of its
    own, a `model_call`, whose `seq` this one names."""

    kind: ClassVar[str] = "answer"

    answer_id: str | None = None  # None when refused; its explanation is kept under this id
    collections: tuple[str, ...]
    classification: str  # the answer's: the highest of the request's and its sources'
    model: str  # "extractive" when quoted from the sources
    backend: str | None = None  # the generative model's, None for an extractive answer
    jurisdiction: str | None = None
    model_call: int | None = None  # the `seq` of the generative model's call, kept when its text was rejected
    abstained: bool = False
    chunk_ids: tuple[int, ...] = ()  # the passages cited
    question_hash: str  # keyed, see ContentHasher
    answer_hash: str | None = None
    latency_ms: float = 0.0
    decisions: tuple[str, ...] = ()  # "fallback:extractive" when the generated text was rejected; refusals


@dataclass(frozen=True, kw_only=True)
class DocumentChange(Event):
    """A collection made or deleted, a document uploaded or deleted, through the API or `souverain ingest`.

    Titles and file names are left out, not even hashed: they often name a person ("Recours Dupont.pdf"),
    a short one is found again by trying names, and the id and content SHA-256 identify the document."""

    kind: ClassVar[str] = "document_change"

    action: str  # "collection.create", "collection.delete", "document.upload" or "document.delete"
    collection: str | None  # None for a document deletion refused before its collection was known
    classification: str | None = None  # the document's level, or the collection's
    document_id: str | None = None  # for an upload of bytes already there, the document holding them
    content_sha256: str | None = None  # as stored with the document: anyone holding the file can check it
    size_bytes: int | None = None
    documents: int = 0  # added or removed: 0 for an upload of bytes already there
    chunks: int = 0  # added or removed
    decisions: tuple[str, ...] = ()  # the refusal's code, "refused:classification_violation"


# --- data subjects' requests ---------------------------------------------------------------------------
# A subject is named by its keyed hashes (privacy/subjects.py), never by the value a person typed.


@dataclass(frozen=True, kw_only=True)
class SubjectAccess(Event):
    """What was found, and handed over, for a data subject's request for access (GDPR art. 15)."""

    kind: ClassVar[str] = "subject_access"

    subjects: tuple[str, ...]  # the keyed hashes looked up
    documents: int = 0
    chunks: int = 0
    answers: int = 0
    reviews: int = 0
    withheld: int = 0  # documents above the requesting key's clearance: counted, not handed over


@dataclass(frozen=True, kw_only=True)
class Erasure(Event):
    """A data subject erased (GDPR art. 17): the certificate's content, by id, without the value."""

    kind: ClassVar[str] = "erasure"

    certificate: str  # the certificate's id
    mode: str  # "delete" or "redact"
    subjects: tuple[str, ...]
    document_ids: tuple[str, ...] = ()  # deleted, or redacted in place
    chunks: int = 0
    answer_ids: tuple[str, ...] = ()  # stored answers deleted
    review_ids: tuple[str, ...] = ()  # held outputs whose sealed content was erased


# --- retention -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Purge(Event):
    """What a retention purge removed of a tenant's data made before `cutoff`: counts and places, never
    content. For records, the range and digest let verification tell a purged record from a hidden one
    (see governance/audit/purged.py)."""

    kind: ClassVar[str] = "purge"

    category: str  # "conversations", "documents" or "records"
    cutoff: str  # what was made before this moment (the record's `at` format) was purged
    answers: int = 0  # conversations: answers' explanations deleted
    reviews: int = 0  # conversations: held outputs whose sealed content was erased
    documents: int = 0
    chunks: int = 0
    records: int = 0  # audit records reduced to stubs
    first_seq: int | None = None  # the first and last of those records
    last_seq: int | None = None
    stubs_digest: str | None = None  # SHA-256 of "seq:prev_hash:hash\n" of each, in order
