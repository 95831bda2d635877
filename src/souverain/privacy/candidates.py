"""Finds identifiers however people split them ("59-119/9013", "1 85 05 78 006 084 36") in one pass.

Numbers are cut into tokens (runs of letters and digits) joined by one separator each. Every run of up
to `MAX_TOKENS` consecutive tokens is a candidate; its compacted length picks the few formats that
could fit (an index, so a 9-digit candidate never meets a 13-digit validator), the longest valid
candidate wins and the search goes on after it. Each token starts at most `MAX_TOKENS` candidates:
linear in the length of the text.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from souverain.knowledge.languages import base_language
from souverain.privacy.context_words import CONTEXT_WORDS, LANGUAGE_COUNTRIES, ContextIndex, ContextWords
from souverain.privacy.entities import Entity
from souverain.privacy.formats import SCORES, IdentifierFormat, Strength
from souverain.privacy.shared_work import shared

# A token: ASCII letters and digits with at least one digit, or a short upper-case word that may be a
# prefix, a check letter or a bank code ("FR", "ATU", "Z", "ABNA"); never glued to other word
# characters ("é123").
# Words without digits are skipped by the regular expression itself, so prose costs almost nothing.
# A lone lower-case letter counts only when a separator and a digit follow ("ES-x-2482300w"): in prose,
# "a" or "y" before a number with a space between stay words. Sixteen capitals may be an Italian codice
# fiscale whose every digit was replaced by a letter (omocodia), which its check letter then settles.
_TOKEN = re.compile(
    r"(?<!\w)(?:[A-Za-z]*\d[A-Za-z0-9]*|[A-Z][A-Za-z]{0,2}|[A-Z]{4}|[A-Z]{16}|[a-z](?=[-./]\d))(?!\w)"
)
# What may join two tokens of one number: "85.07.30-033.28", "59-119/9013", "880320+0016", and,
# around a separator, a space or two: "81 - 590/9908", "DE - 113866163", "LU: 2294 4200".
_JOINERS = frozenset(" .-/+")
_JOINER = re.compile(r" ?[-./:+]? ?")
_MAX_JOINER = 3
MAX_TOKENS = 12  # an IBAN in groups of four: up to 9; an Italian VAT digit by digit: 12 ("IT 0 0 6 1 …")
LONG_RUN = 3 * MAX_TOKENS


class FormatMatcher:
    """A recognizer of the numbers of `formats` in a (folded) text, reported as `name`. Findings that
    could not reach `min_score` are not looked for: a weak format is validated only near its context.
    The recognizers of identifiers and of bank data are two of them."""

    def __init__(self, name: str, formats: Sequence[IdentifierFormat], min_score: float = 0.0) -> None:
        self.name = name
        self.types = frozenset(identifier_format.type for identifier_format in formats)
        self.min_score = min_score
        by_length: defaultdict[int, list[IdentifierFormat]] = defaultdict(list)
        for identifier_format in formats:
            for length in identifier_format.lengths:
                by_length[length].append(identifier_format)
        self._by_length = {length: tuple(found) for length, found in by_length.items()}
        self._max_length = max(self._by_length)
        # The best score a number of each length can reach with no context word near, written the way
        # people write it, standing alone (False) or among other numbers (True): lengths that cannot
        # reach min_score are skipped at once where no context word is near (most numbers in a digit dump).
        self._ceilings = {
            inside: {
                length: max(
                    SCORES[_strength(identifier_format, True, inside)][0] for identifier_format in found
                )
                for length, found in self._by_length.items()
            }
            for inside in (False, True)
        }
        subtypes_by_word: defaultdict[str, list[str]] = defaultdict(list)
        for identifier_format in formats:
            for word in CONTEXT_WORDS.get(identifier_format.subtype, ()):
                subtypes_by_word[word.lower()].append(identifier_format.subtype)
        self._context_words = ContextWords({word: tuple(found) for word, found in subtypes_by_word.items()})

    def find(self, text: str, language: str | None = None) -> Iterator[Entity]:
        countries = LANGUAGE_COUNTRIES.get(base_language(language or ""), frozenset())
        starts: list[int] = []
        ends: list[int] = []
        values: list[str] = []
        tokens = number_tokens(text)
        context = self._context_words.index(text)
        for start, end, value, joined in zip(
            tokens.starts, tokens.ends, tokens.values, tokens.joined, strict=True
        ):
            usable = len(value) <= self._max_length
            if values and not (usable and joined):
                yield from self._find_in_run(text, context, starts, ends, values, countries)
                starts, ends, values = [], [], []
            if usable:
                starts.append(start)
                ends.append(end)
                values.append(value)
        if values:
            yield from self._find_in_run(text, context, starts, ends, values, countries)

    def _find_in_run(
        self,
        text: str,
        context: ContextIndex,
        starts: list[int],
        ends: list[int],
        values: list[str],
        countries: frozenset[str],
    ) -> Iterator[Entity]:
        # A longer run than any number is written in is a dump of digits (a table flattened to text, a
        # hex dump): there numbers are looked for token by token, not in every combination.
        most_tokens = MAX_TOKENS if len(values) <= LONG_RUN else 1
        first = 0
        while first < len(values):
            # Candidate ends whose compacted length some format has, longest first.
            fitting: list[int] = []
            length = 0
            stop = min(len(values), first + most_tokens)
            any_context: bool | None = None  # asked only of a length that needs it
            for last in range(first, stop):
                length += len(values[last])
                if length > self._max_length:
                    break
                if length not in self._by_length:
                    continue
                ceiling = self._ceilings[first > 0 or last + 1 < len(values)]
                if ceiling[length] < self.min_score and any_context is None:
                    any_context = context.near(None, starts[first], ends[stop - 1])
                if any_context or ceiling[length] >= self.min_score:
                    fitting.append(last)
            for last in reversed(fitting):
                # Next to another group of digits: a part of a longer number if joined by a dot, dash or
                # slash (then skipped), one number among others if by a space (then less certain).
                before = first > 0 and not values[first - 1].isalpha()
                after = last + 1 < len(values) and not values[last + 1].isalpha()
                if (before and not text[ends[first - 1] : starts[first]].isspace()) or (
                    after and not text[ends[last] : starts[last + 1]].isspace()
                ):
                    continue
                inside = before or after
                compact = "".join(values[first : last + 1])
                entity = self._best(text, context, starts[first], ends[last], compact, inside, countries)
                if entity is not None:
                    yield entity
                    first = last
                    break
            first += 1

    def _best(
        self,
        text: str,
        context: ContextIndex,
        start: int,
        end: int,
        compact: str,
        inside: bool,
        countries: frozenset[str],
    ) -> Entity | None:
        best: Entity | None = None
        written = text[start:end]
        for identifier_format in self._by_length[len(compact)]:
            if identifier_format.shape.fullmatch(compact) is None:
                continue
            as_written = identifier_format.written is not None and identifier_format.written.fullmatch(
                written
            )
            strength = _strength(identifier_format, bool(as_written), inside)
            without_context, with_context = SCORES[strength]
            score = with_context if context.near(identifier_format.subtype, start, end) else without_context
            # Checked before validating: validators cost more than everything else here. A tie goes to
            # the first format, unless the text's language names the other's country.
            if score <= 0 or score < self.min_score or (best is not None and score < best.score):
                continue
            if best is not None and score == best.score and _country(identifier_format) not in countries:
                continue
            candidate = _with_dashes(written) if identifier_format.keeps_dash else compact
            if identifier_format.validate(candidate):
                best = Entity(identifier_format.type, start, end, score, self.name, identifier_format.subtype)
        return best


@dataclass(frozen=True, slots=True)
class NumberTokens:
    """The tokens of a text in order, upper-cased, each with whether a separator joins it to the one
    before."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    values: tuple[str, ...]
    joined: tuple[bool, ...]


def number_tokens(text: str) -> NumberTokens:
    """Cut once per analysis: the recognizers of identifiers and of bank data ask for the same text in a
    row, and cutting it is most of what either costs on prose."""
    return shared((number_tokens, text), lambda: _cut(text))


def _cut(text: str) -> NumberTokens:
    starts: list[int] = []
    ends: list[int] = []
    values: list[str] = []
    joined: list[bool] = []
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        joined.append(bool(ends) and _joins(text, ends[-1], start))
        starts.append(start)
        ends.append(end)
        values.append(match.group().upper())
    return NumberTokens(tuple(starts), tuple(ends), tuple(values), tuple(joined))


def _strength(identifier_format: IdentifierFormat, as_written: bool, inside: bool) -> Strength:
    """A format's strength, one higher when written its characteristic way, lower when the number
    sits between other numbers (a phone number, a list, a table row)."""
    strength = identifier_format.strength
    if as_written and identifier_format.written is not None:
        strength = Strength(min(Strength.STRONG, strength + 1))
    if inside:  # two lower: "5390 0754 7034" inside a mistyped IBAN is nobody's citizen card
        strength = Strength(max(Strength.CONTEXT_ONLY, strength - 2))
    return strength


def _joins(text: str, end: int, start: int) -> bool:
    """Whether what lies between two tokens (`text[end:start]`) joins them into one number."""
    if start == end + 1:
        return text[end] in _JOINERS
    return 0 < start - end <= _MAX_JOINER and _JOINER.fullmatch(text, end, start) is not None


def _country(identifier_format: IdentifierFormat) -> str:
    return identifier_format.subtype.split(".")[0]


def _with_dashes(written: str) -> str:
    """The number as written with only the separators that never mean anything removed."""
    return written.replace(" ", "").replace(".", "").replace("/", "").upper()
