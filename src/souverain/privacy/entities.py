"""The vocabulary of personal data: a stable set of types, and one finding in a text.

The types are part of the API, the configuration and the audit log: a name here is never renamed.
This module imports nothing of the project's so that the configuration can check policies against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EntityType(StrEnum):
    PERSON = "PERSON"
    NATIONAL_ID = "NATIONAL_ID"  # personal identification numbers, identity cards
    TAX_ID = "TAX_ID"  # personal tax numbers
    SOCIAL_SECURITY = "SOCIAL_SECURITY"
    IBAN = "IBAN"
    VAT = "VAT"  # VAT numbers: a sole trader's is personal data
    CARD = "CARD"  # payment cards
    EMAIL = "EMAIL"
    PHONE = "PHONE"
    IP = "IP"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"


ENTITY_TYPES: tuple[str, ...] = tuple(member.value for member in EntityType)


@dataclass(frozen=True, slots=True)
class Entity:
    """Personal data found at `text[start:end]`. The value itself is never kept here: whoever needs it
    slices the text they already hold, and nothing that logs an entity can leak it."""

    type: EntityType
    start: int
    end: int
    score: float  # 0..1: how sure the recognizer is
    recognizer: str  # which recognizer found it, e.g. "identifiers"
    subtype: str | None = None  # e.g. the python-stdnum module: "fr.nir", "be.nn"

    def overlaps(self, other: Entity) -> bool:
        return self.start < other.end and other.start < self.end
