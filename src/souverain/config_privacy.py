"""The privacy sections of the deployment file: each tenant's policy per type of personal data and its
retention periods, and the site's detection settings (which pipelines find person names)."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from souverain.errors import Problem
from souverain.privacy.entities import ENTITY_TYPES

Action = Literal["allow", "mask", "pseudonymise", "block"]
OutputAction = Literal["allow", "mask", "block"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _shorthand(raw: Any, fields: set[str]) -> Any:
    """`{default: pseudonymise, iban: block}` (as in DESIGN.md) is `{default: …, types: {IBAN: block}}`."""
    if not isinstance(raw, dict):
        return raw
    types = {key: value for key, value in raw.items() if key not in fields}
    if not types:
        return raw
    given = raw.get("types")
    given = given if isinstance(given, dict) else {}
    kept = {key: value for key, value in raw.items() if key in fields}
    return kept | {"types": {**{str(key).upper(): value for key, value in types.items()}, **given}}


class OutputPolicy(_Strict):
    default: OutputAction = Field(
        "allow", description="What happens to personal data a model writes that was not in its input."
    )
    types: dict[str, OutputAction] = Field(
        default_factory=dict, description="Exceptions by type, e.g. `{PERSON: mask}`."
    )

    @model_validator(mode="before")
    @classmethod
    def _types_inline(cls, raw: Any) -> Any:
        return _shorthand(raw, {"default", "types"})

    def action(self, entity_type: str) -> OutputAction:
        return self.types.get(entity_type, self.default)


class PiiPolicy(_Strict):
    """What may reach a model, per type of personal data (`PERSON`, `IBAN`, …; see docs/privacy.md)."""

    default: Action = Field(
        "allow",
        description="For types not listed: `allow` (sent as is), `mask` (`<IBAN>`), `pseudonymise` "
        "(`<PERSON_1>`, restored in the answer) or `block` (the request is refused).",
    )
    types: dict[str, Action] = Field(
        default_factory=dict,
        description="Exceptions by type, e.g. `{IBAN: block}`; may also be written inline: `iban: block`.",
    )
    output: OutputPolicy = Field(
        default_factory=OutputPolicy,
        description="Personal data in model outputs that the input did not hold.",
    )
    erasure: Literal["delete", "redact"] = Field(
        "delete",
        description="What erasing a data subject does to a document that mentions them: delete it, or "
        "redact the mentions in place and keep the rest.",
    )

    @model_validator(mode="before")
    @classmethod
    def _types_inline(cls, raw: Any) -> Any:
        return _shorthand(raw, {"default", "types", "output", "erasure"})

    def action(self, entity_type: str) -> Action:
        return self.types.get(entity_type, self.default)

    @cached_property  # read on every chat call: computed once, the policy being frozen
    def active(self) -> bool:
        """False when everything is allowed in and out: detection can be skipped."""
        return not (
            self.default == "allow"
            and all(action == "allow" for action in self.types.values())
            and self.output.default == "allow"
            and all(action == "allow" for action in self.output.types.values())
        )


class RetentionConfig(_Strict):
    """How long a tenant's data is kept; none means until someone deletes it."""

    conversations_days: int | None = Field(
        None, ge=1, description="Stored conversations: answers' explanations and held reviews."
    )
    records_days: int | None = Field(
        None,
        ge=1,
        description="Request records in the audit log (reduced to their hash, see docs/privacy.md).",
    )
    documents_days: int | None = Field(None, ge=1, description="Documents, with their chunks and vectors.")


class PrivacyConfig(_Strict):
    """How the site finds personal data."""

    names: Literal["spacy", "heuristic", "off"] = Field(
        "spacy",
        description="Person names: `spacy` (the pipelines of `name_models`; a language without one falls "
        "back to `heuristic`), `heuristic` (capitalised words after titles and name cues) or `off`.",
    )
    name_models: dict[str, str] = Field(
        default_factory=lambda: {"fr": "fr_core_news_sm", "en": "en_core_web_sm"},
        description="spaCy pipeline per language (ISO 639-1): an installed package's name or a folder.",
    )
    min_score: float = Field(0.5, ge=0, le=1, description="Findings less certain than this are ignored.")


def pii_problems(path: str, policy: PiiPolicy) -> list[Problem]:
    known = ", ".join(ENTITY_TYPES)
    problems = []
    for where, types in ((f"{path}.types", policy.types), (f"{path}.output.types", policy.output.types)):
        for name in types:
            if name not in ENTITY_TYPES:
                problems.append(
                    Problem(f"{where}.{name}", f"unknown type of personal data: expected one of {known}")
                )
    return problems
