"""Personal data in a text: what is there (`analyze`) and the text without it (`anonymize`), for any key
of a tenant, with the site's recognizers and, by default, the tenant's policy."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from souverain.api.deps import CurrentPrincipal, ServicesDep
from souverain.api.schemas import error_responses
from souverain.privacy import anonymize as service
from souverain.privacy.entities import EntityType

router = APIRouter(prefix="/v1/privacy", tags=["Privacy"], responses=error_responses(400, 401, 403, 413))

_SPANS = (
    "`start` and `end` are character offsets into `text` as sent (Unicode code points, as Python and "
    "most languages index strings; not UTF-16 units as JavaScript does, nor bytes): the finding is "
    "`text[start:end]`."
)


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="The text to look into, up to the site's request size limit.")
    language: str | None = Field(
        None,
        pattern=r"^[a-z]{2}$",
        description="ISO 639-1 code (`fr`, `de`): picks the name model and context words; optional.",
    )


class AnonymizeRequest(AnalyzeRequest):
    action: Literal["mask", "pseudonymise"] | None = Field(
        None,
        description="Applied to every type found. Default: the caller's tenant's policy, under which a "
        "blocked type refuses the text with `personal_data_blocked`.",
    )


class FoundEntity(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read from an Entity as it is

    type: EntityType
    subtype: str | None = Field(description="E.g. the python-stdnum module that validated it: `fr.nir`.")
    start: int
    end: int
    score: float
    recognizer: str


class Analysis(BaseModel):
    entities: list[FoundEntity] = Field(description="In order, not overlapping. " + _SPANS)


class ReplacedEntity(FoundEntity):
    action: Literal["allow", "mask", "pseudonymise"]
    replacement: str | None = Field(description="`<IBAN>` or `<PERSON_1>`; null when allowed.")


class Anonymization(BaseModel):
    text: str = Field(description="The text with each finding replaced.")
    entities: list[ReplacedEntity] = Field(
        description="What was found and done, in order; spans index the text as sent, not the result. "
        + _SPANS
    )


@router.post("/analyze", response_model=Analysis)
async def analyze(request: AnalyzeRequest, principal: CurrentPrincipal, services: ServicesDep) -> Analysis:
    """The personal data the site's recognizers find in the text. Nothing of the text is kept or logged."""
    entities = await service.analyze(services.analyzer, request.text, request.language)
    return Analysis(entities=[FoundEntity.model_validate(entity) for entity in entities])


@router.post("/anonymize", response_model=Anonymization)
async def anonymize(
    request: AnonymizeRequest, principal: CurrentPrincipal, services: ServicesDep
) -> Anonymization:
    """The text masked or pseudonymised, by the action given or the tenant's policy. Placeholders are
    numbered by first appearance and the same value always gets the same one; their values are not kept."""
    chosen = request.action
    action = principal.tenant.pii.action if chosen is None else (lambda entity_type: chosen)
    result = await service.anonymize(services.analyzer, request.text, request.language, action)
    entities = [
        ReplacedEntity(
            **FoundEntity.model_validate(item.entity).model_dump(),
            action=item.action,
            replacement=item.replacement,
        )
        for item in result.entities
    ]
    return Anonymization(text=result.text, entities=entities)
