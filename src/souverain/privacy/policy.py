"""A tenant's policy applied to texts: what goes to a model (allow, mask, pseudonymise, block), and what
comes back from it that the input did not hold (the output policy). Values never leave this module in an
error or a decision: those name types only."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field

from souverain.config_privacy import Action, OutputPolicy, PiiPolicy
from souverain.errors import PersonalDataBlocked, PersonalDataInOutput
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.canonical import canonical
from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.pseudonyms import Pseudonyms
from souverain.privacy.splicing import spliced

Seen = frozenset[tuple[EntityType, str]]  # (type, canonical value) of what the input held

# A stream's text is held back this many characters, so that personal data cut across two chunks is seen
# whole before any of it leaves: the longest IBAN (34 characters and its spaces), a card or phone number
# and most e-mail addresses fit. Longer findings may reach the caller unmasked in a stream.
STREAM_WINDOW = 64
_CONTEXT = 32  # characters already sent, kept so that a recognizer still sees its context words


def mask(entity_type: EntityType) -> str:
    return f"<{entity_type.value}>"


def _seen(text: str, entity: Entity) -> tuple[EntityType, str]:
    return entity.type, canonical(entity.type, text[entity.start : entity.end], entity.subtype)


def input_types(policy: PiiPolicy, known: Collection[EntityType]) -> frozenset[EntityType]:
    """What to look for in a request: the types it acts on, and those the output policy acts on (whose
    presence in the input then exempts them in the output)."""
    return frozenset(
        entity_type
        for entity_type in known
        if policy.action(entity_type) != "allow" or policy.output.action(entity_type) != "allow"
    )


def replacement(entity_type: EntityType, value: str, chosen: Action, pseudonyms: Pseudonyms) -> str | None:
    """What stands for `value` under `chosen`: its mask, its placeholder, or None (left as it is)."""
    if chosen == "mask":
        return mask(entity_type)
    if chosen == "pseudonymise":
        return pseudonyms.placeholder(entity_type, value)
    return None  # allowed, or blocked: a blocked type never gets this far in a request


def rewritten(
    text: str, entities: Iterable[Entity], action: Callable[[EntityType], Action], pseudonyms: Pseudonyms
) -> str:
    """`text` with each entity (sorted, not overlapping) masked or pseudonymised as `action` says."""
    replacements: list[tuple[int, int, str]] = []
    for entity in entities:
        replaced = replacement(entity.type, text[entity.start : entity.end], action(entity.type), pseudonyms)
        if replaced is not None:
            replacements.append((entity.start, entity.end, replaced))
    return spliced(text, replacements)


@dataclass
class Screened:
    """What a tenant's policy made of a request's texts."""

    texts: list[str]
    pseudonyms: Pseudonyms
    seen: Seen
    personal_data: tuple[str, ...]  # "TYPE:action" per type found, sorted: the audit record's


def screen(analyzer: Analyzer, policy: PiiPolicy, texts: list[str], language: str | None = None) -> Screened:
    """Apply the input policy to the texts of one conversation, in conversation order (the order that
    numbers the placeholders). Raises PersonalDataBlocked, naming the types, when one is blocked."""
    wanted = input_types(policy, analyzer.types)
    pseudonyms = Pseudonyms()
    if not wanted:
        return Screened(texts, pseudonyms, frozenset(), ())
    found = [analyzer.analyze(text, language, wanted) for text in texts]
    types = {entity.type for entities in found for entity in entities}
    if not types:
        return Screened(texts, pseudonyms, frozenset(), ())
    decisions = tuple(sorted(f"{entity_type}:{policy.action(entity_type)}" for entity_type in types))
    blocked = sorted(entity_type for entity_type in types if policy.action(entity_type) == "block")
    if blocked:
        raise PersonalDataBlocked(blocked, decisions)
    seen = frozenset(
        _seen(text, entity) for text, entities in zip(texts, found, strict=True) for entity in entities
    )
    protected = [
        rewritten(text, entities, policy.action, pseudonyms) if entities else text
        for text, entities in zip(texts, found, strict=True)
    ]
    return Screened(protected, pseudonyms, seen, decisions)


@dataclass
class OutputGuard:
    """The output policy over what one request's model writes: personal data the input did not hold is
    masked, or blocks the answer. `personal_data` gathers "output:TYPE:action" for the audit record."""

    analyzer: Analyzer
    policy: OutputPolicy
    seen: Seen
    types: frozenset[EntityType]
    personal_data: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, analyzer: Analyzer, policy: PiiPolicy, seen: Seen) -> OutputGuard | None:
        """None when the output policy allows every type: the output is then not even looked at."""
        output = policy.output
        types = frozenset(
            entity_type for entity_type in analyzer.types if output.action(entity_type) != "allow"
        )
        return cls(analyzer, output, seen, types) if types else None

    def new_entities(self, text: str) -> list[Entity]:
        return [
            entity
            for entity in self.analyzer.analyze(text, None, self.types)
            if _seen(text, entity) not in self.seen
        ]

    def apply(self, text: str) -> str:
        """A whole output, masked; raises PersonalDataInOutput when a blocked type is in it."""
        entities = self.new_entities(text)
        self.note(entities)
        blocked = sorted({entity.type for entity in entities if self.policy.action(entity.type) == "block"})
        if blocked:
            raise PersonalDataInOutput(blocked)
        return rewritten(text, entities, self._action, Pseudonyms())

    def stream(self) -> StreamGuard:
        return StreamGuard(self)

    def _action(self, entity_type: EntityType) -> Action:
        return self.policy.action(entity_type)

    def note(self, entities: Iterable[Entity]) -> None:
        for entity in entities:
            self.personal_data.add(f"output:{entity.type}:{self.policy.action(entity.type)}")


class StreamGuard:
    """The output policy over text arriving in pieces. `feed` gives back what may leave now, holding back
    the last `STREAM_WINDOW` characters (and any finding that reaches into them); `flush` the rest.

    A blocked type cannot be taken back from a stream already under way: the text before it leaves, the
    finding itself never does, and `blocked` names the types, for the caller to end the stream there."""

    def __init__(self, guard: OutputGuard) -> None:
        self._guard = guard
        self._pending = ""
        self._context = ""
        self.blocked: list[str] = []

    def feed(self, piece: str) -> str:
        if self.blocked:
            return ""
        self._pending += piece
        if len(self._pending) <= STREAM_WINDOW:
            return ""
        return self._release(len(self._pending) - STREAM_WINDOW)

    def flush(self) -> str:
        if self.blocked or not self._pending:
            return ""
        return self._release(len(self._pending))

    def _release(self, cut: int) -> str:
        offset = len(self._context)
        text = self._context + self._pending
        end = offset + cut
        releasable: list[Entity] = []
        for entity in self._guard.new_entities(text):
            if entity.start < offset:  # begun in what already left
                continue
            if entity.start >= end:
                break
            if entity.end > end:  # never cut through a finding: hold it whole
                end = entity.start
                break
            releasable.append(entity)
        blocked = [entity for entity in releasable if self._guard.policy.action(entity.type) == "block"]
        if blocked:
            end = blocked[0].start
            releasable = [entity for entity in releasable if entity.end <= end]
            self.blocked = sorted({entity.type.value for entity in blocked})
            self._guard.note(blocked)
        self._guard.note(releasable)
        released = spliced(
            text[offset:end],
            [(entity.start - offset, entity.end - offset, mask(entity.type)) for entity in releasable],
        )
        self._pending = text[end:]
        self._context = text[max(0, end - _CONTEXT) : end]
        return released
