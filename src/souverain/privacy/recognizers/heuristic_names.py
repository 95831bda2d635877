"""The fallback for person names where no spaCy pipeline serves the language: up to four capitalised words
(initials and particles such as "van der" included) right after a title or a name cue of an EU
language ("M.", "Frau", "Sra.", "Pani", "my name is", "je m'appelle", …).

Honest about what it is: it finds the names a text introduces with a title or a cue, and none of the
others. Each title or cue looks at a bounded number of characters after it, so time is linear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from souverain.privacy.entities import Entity, EntityType

RECOGNIZER = "names.heuristic"
SCORE = 0.7  # below spaCy's 0.85: a title is good evidence, the extent of the name less so

# Written as people write them, capital first: "Pan" or "Don" in lower case is an ordinary word. A dot
# may follow an abbreviation after a space, as in tokenised court texts ("M . Dupont").
_CASED_TITLES = (
    r"M\s?\.|MM\s?\.|Mmes?|Mlle|Mr|Mrs|Ms|Mx|Dr|Drs|Prof|Herr|Frau|Hr|Fr|Sr|Sra|Srta|Sres|Don|Doña|Dña"
    r"|Sig|Sig\.ra|Sig\.na|Dott|Dott\.ssa|Avv|Ing|Dhr|Mevr|Mw|Pan|Pani|Panu|Panią|Paní|Pán|Sz|Κος|Κα"  # noqa: RUF001 (Cyrillic and Greek on purpose)
    r"|Г-н|Г-жа|Dl|Dna|Gdin|Gđa|Gđica|Sn|Snr|Sen|Srª|Sr\.ª"
)
# Whole words, in any case ("à madame Dupont").
_UNCASED_TITLES = (
    r"monsieur|madame|mademoiselle|maître|mister|miss|missus|doctor|docteur|doktor|herrn|señor|señora"
    r"|señorita|signor|signore|signora|signorina|dottore|dottoressa|meneer|mevrouw|juffrouw|senhor"
    r"|senhora|doutor|doutora|domnul|doamna|domnișoara|domnului|doamnei|gospod|gospa|gospodin|gospođa"
    r"|gospodična|господин|госпожа|pane|paní|pani|herra|rouva|neiti|härra|proua|preili|kungs|kundze"
    r"|ponas|ponia|asszony|κύριος|κυρία|κύριο|sinjur|sinjura|fru|fröken|frøken|hr|frk|uasal|iníon"
)
# Cues that a name follows, in any case.
_CUES = (
    r"my\s+name\s+is|i\s+am\s+called|je\s+m['\u2019]appelle|je\s+me\s+nomme|mon\s+nom\s+est|ich\s+heiße"
    r"|ich\s+heisse|mein\s+name\s+ist|me\s+llamo|mi\s+nombre\s+es|mi\s+chiamo|il\s+mio\s+nome\s+è"
    r"|mijn\s+naam\s+is|ik\s+heet|nazywam\s+się|mam\s+na\s+imię|chamo-me|o\s+meu\s+nome\s+é"
    r"|jag\s+heter|jeg\s+hedder|minun\s+nimeni\s+on|nimeni\s+on|mă\s+numesc|jmenuji\s+se"
    r"|volám\s+sa|ime\s+mi\s+je|zovem\s+se|a\s+nevem|mano\s+vardas|mani\s+sauc|minu\s+nimi\s+on"
    r"|казвам\s+се|με\s+λένε|jisimni|is\s+mise"  # noqa: RUF001 (Cyrillic and Greek on purpose)
)
# A title ends with its optional dot; what follows must be a space, so "Dr" in "Drive" never counts.
_INTRODUCER = re.compile(
    rf"(?<![\w.])(?:(?:{_CASED_TITLES})(?:\s?\.)?|(?i:{_UNCASED_TITLES})|(?i:{_CUES}))(?=[ \t\n])"
)
# A finding that is a title alone ("Madame," opening a letter) is no name: the small pipelines tag them.
TITLE_ALONE = re.compile(rf"(?:{_CASED_TITLES})(?:\s?\.)?|(?i:{_UNCASED_TITLES})")
# One word of a name after 1-3 spaces: an initial ("J." or "J ."), or letters with inner hyphens and
# apostrophes ("Anne-Marie", "O'Brien"). Bounded lengths keep each attempt constant-time.
_WORD = re.compile(
    r"[ \t]{1,3}(?:\n[ \t]{0,3})?([^\W\d_]\s?\.(?!\w)|[^\W\d_]{1,40}(?:[-'\u2019][^\W\d_]{1,40}){0,3})"
)
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "des", "la", "le", "dos", "das"}
    | {"y", "zu", "ten", "ter", "af", "av", "bin", "ibn", "mac", "d'", "dei", "degli"}
)
MAX_WORDS = 4


def heuristic_names(text: str) -> Iterator[Entity]:
    for introducer in _INTRODUCER.finditer(text):
        span = _name_after(text, introducer.end())
        if span is not None:
            yield Entity(EntityType.PERSON, span[0], span[1], SCORE, RECOGNIZER)


def _name_after(text: str, position: int) -> tuple[int, int] | None:
    start = end = -1
    particle_start = -1  # where "de" of "de Vries" begins, until a capitalised word confirms it
    for _ in range(MAX_WORDS):
        match = _WORD.match(text, position)
        if match is None:
            break
        word = match.group(1)
        if word[0].isupper():
            if start < 0:
                start = particle_start if particle_start >= 0 else match.start(1)
            end = match.end(1)
        elif word.lower() in _PARTICLES:
            if start < 0 and particle_start < 0:
                particle_start = match.start(1)
        else:
            break  # a name holds capitalised words and particles only
        position = match.end()
    return (start, end) if start >= 0 else None
