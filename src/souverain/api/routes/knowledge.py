"""Collections, documents and search: the routes of the knowledge module."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from pydantic import ValidationError

from souverain.api.deps import CurrentPrincipal, ServicesDep
from souverain.api.errors import validation_error
from souverain.api.schemas import (
    Chunk,
    ChunkList,
    Collection,
    CollectionCreate,
    CollectionList,
    Document,
    DocumentList,
    DocumentText,
    Ingestion,
    SearchHit,
    SearchRequest,
    SearchResponse,
    error_responses,
)
from souverain.errors import InvalidRequest
from souverain.knowledge.recorded import Editor, require_document_role
from souverain.knowledge.service import Upload
from souverain.store.models import DocumentRow
from souverain.tenancy.principal import Principal

router = APIRouter(prefix="/v1", tags=["Knowledge"], responses=error_responses(400, 401, 403, 404, 409, 413))


async def writer(principal: CurrentPrincipal) -> Principal:
    require_document_role(principal)
    return principal


# For the routes that read. Those that change documents, search or answer take any key and leave the
# role's check to the recorded knowledge, so that its refusal is recorded like the others.
Writer = Annotated[Principal, Depends(writer)]


def _document(row: DocumentRow, collection: str) -> Document:
    return Document(
        id=row.id,
        collection=collection,
        title=row.title,
        filename=row.filename,
        media_type=row.media_type,
        classification=row.classification,
        language=row.language,
        size_bytes=row.size_bytes,
        pages=row.pages,
        text_chars=row.text_chars,
        metadata=json.loads(row.metadata_json),
        created_at=row.created_at,
    )


@router.post("/collections", status_code=status.HTTP_201_CREATED, response_model=Collection)
async def create_collection(
    body: CollectionCreate, caller: CurrentPrincipal, services: ServicesDep
) -> Collection:
    row = await services.recorded_knowledge.create_collection(
        Editor.of(caller), body.name, body.classification, body.description
    )
    return Collection(
        name=row.name,
        description=row.description,
        classification=row.classification,
        documents=0,
        created_at=row.created_at,
    )


@router.get("/collections", response_model=CollectionList)
async def list_collections(caller: Writer, services: ServicesDep) -> CollectionList:
    return CollectionList(
        data=[
            Collection(
                name=row.name,
                description=row.description,
                classification=row.classification,
                documents=documents,
                created_at=row.created_at,
            )
            for row, documents in await services.knowledge.collections(caller.tenant)
        ]
    )


@router.delete("/collections/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_collection(name: str, caller: CurrentPrincipal, services: ServicesDep) -> None:
    await services.recorded_knowledge.delete_collection(Editor.of(caller), name)


@router.post(
    "/collections/{name}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=Ingestion,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "title": {"type": "string"},
                            "classification": {"type": "string"},
                            "metadata": {"type": "string", "description": "A JSON object."},
                        },
                    }
                },
                "application/json": {"schema": DocumentText.model_json_schema()},
            },
        }
    },
)
async def upload_document(
    name: str, request: Request, caller: CurrentPrincipal, services: ServicesDep
) -> Ingestion:
    """Add a document: a file (multipart, field `file`) or a text (JSON). The same bytes twice in one
    collection are one document: the second upload answers `unchanged`."""
    upload = await _upload(request)
    ingested = await services.recorded_knowledge.ingest(Editor.of(caller), name, upload)
    document = _document(ingested.document, name)
    return Ingestion(**document.model_dump(), status=ingested.status, chunks=ingested.chunks)


async def _upload(request: Request) -> Upload:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_part_size=16 * 1024 * 1024)
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise InvalidRequest("send the document as a file in the multipart field `file`", param="file")
        data = await file.read()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        return Upload(
            data=data,
            filename=file.filename or "",
            media_type=file.content_type,
            title=fields.get("title"),
            classification=fields.get("classification"),
            metadata=_metadata(fields.get("metadata")),
        )
    try:
        body = DocumentText.model_validate_json(await request.body())
    except ValidationError as error:
        raise validation_error(error) from None
    media_type = "text/markdown" if body.filename.endswith((".md", ".markdown")) else "text/plain"
    return Upload(
        data=body.text.encode("utf-8"),
        filename=body.filename,
        media_type=media_type,
        title=body.title,
        classification=body.classification,
        metadata=body.metadata,
    )


def _metadata(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidRequest("metadata must be a JSON object", param="metadata") from None
    if not isinstance(value, dict):
        raise InvalidRequest("metadata must be a JSON object", param="metadata")
    return value


@router.get("/collections/{name}/documents", response_model=DocumentList)
async def list_documents(name: str, caller: Writer, services: ServicesDep) -> DocumentList:
    rows = await services.knowledge.documents(caller.tenant, caller.clearance, name)
    return DocumentList(data=[_document(row, name) for row in rows])


@router.get("/documents/{document_id}", response_model=Document)
async def get_document(document_id: str, caller: Writer, services: ServicesDep) -> Document:
    row = await services.knowledge.document(caller.tenant, caller.clearance, document_id)
    return _document(row, await services.knowledge.collection_name(row.collection_id))


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_document(document_id: str, caller: CurrentPrincipal, services: ServicesDep) -> None:
    await services.recorded_knowledge.delete_document(Editor.of(caller), document_id)


@router.get("/documents/{document_id}/chunks", response_model=ChunkList)
async def list_chunks(document_id: str, caller: Writer, services: ServicesDep) -> ChunkList:
    rows = await services.knowledge.chunks(caller.tenant, caller.clearance, document_id)
    return ChunkList(
        data=[
            Chunk(
                id=row.id,
                ordinal=row.ordinal,
                text=row.text,
                page=row.page,
                start=row.start,
                end=row.end,
                heading=row.heading,
            )
            for row in rows
        ]
    )


@router.post("/search", response_model=SearchResponse)
async def search(
    body: SearchRequest, request: Request, caller: CurrentPrincipal, services: ServicesDep
) -> SearchResponse:
    """Hybrid search (full text and vectors, their scores fused) within the caller's tenant, collections
    and clearance."""
    retrieval = await services.recorded_knowledge.search(
        caller, request.headers.get("x-classification"), body.query, body.collections, body.limit
    )
    return SearchResponse(
        data=[
            SearchHit(
                document_id=result.chunk.document_id,
                title=result.title,
                chunk_id=result.chunk.id,
                page=result.chunk.page,
                heading=result.chunk.heading,
                text=result.chunk.text,
                start=result.chunk.start,
                end=result.chunk.end,
                lexical_rank=result.fused.lexical_rank,
                vector_rank=result.fused.vector_rank,
                score=result.fused.score,
            )
            for result in retrieval.results
        ]
    )
