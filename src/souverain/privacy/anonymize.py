"""One text at a time, for the `/v1/privacy` endpoints: the personal data in it, and the text masked or
pseudonymised, each finding with what was done to it. Spans are offsets into the text as given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from souverain.config_privacy import Action
from souverain.errors import PersonalDataBlocked
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.long_texts import analysed
from souverain.privacy.policy import replacement
from souverain.privacy.pseudonyms import Pseudonyms
from souverain.privacy.splicing import spliced


@dataclass(frozen=True)
class Replaced:
    entity: Entity
    action: Action  # never "block": a blocked type refuses the whole text
    replacement: str | None  # the mask or placeholder; None when the type is allowed


@dataclass(frozen=True)
class Anonymized:
    text: str
    entities: list[Replaced]


async def analyze(analyzer: Analyzer, text: str, language: str | None) -> list[Entity]:
    return await analysed(len(text), partial(analyzer.analyze, text, language))


async def anonymize(
    analyzer: Analyzer, text: str, language: str | None, action: Callable[[EntityType], Action]
) -> Anonymized:
    """`text` with each finding masked, pseudonymised or left as `action` says; raises
    PersonalDataBlocked, naming the types, when `action` blocks one that is found."""
    entities = await analyze(analyzer, text, language)
    blocked = sorted({entity.type.value for entity in entities if action(entity.type) == "block"})
    if blocked:
        raise PersonalDataBlocked(blocked, param="text")
    pseudonyms = Pseudonyms()
    replaced = []
    for entity in entities:
        chosen = action(entity.type)
        value = text[entity.start : entity.end]
        replaced.append(Replaced(entity, chosen, replacement(entity.type, value, chosen, pseudonyms)))
    replacements = [
        (done.entity.start, done.entity.end, done.replacement)
        for done in replaced
        if done.replacement is not None
    ]
    return Anonymized(spliced(text, replacements), replaced)
