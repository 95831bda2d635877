"""Languages of documents and questions: ISO 639-1 codes, and what full-text search makes of them."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUESTION_WORDS = 64

# PostgreSQL 16's text-search configurations (`SELECT cfgname FROM pg_ts_config`), by ISO 639-1 code. The
# EU languages missing here (bg, cs, et, hr, lv, mt, pl, sk, sl) have no stemmer in PostgreSQL: their text
# is indexed word for word with 'simple', which still matches the words as written.
POSTGRES_TEXT_SEARCH: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
POSTGRES_FALLBACK = "simple"


def base_language(code: str) -> str:
    """The ISO 639-1 part of a language tag: 'de-AT' -> 'de', 'EN_gb' -> 'en', '' -> ''."""
    return code.strip().replace("_", "-").split("-", 1)[0].lower()


def postgres_text_search(code: str) -> str:
    """The PostgreSQL text-search configuration for a language tag ('simple' when none fits)."""
    return POSTGRES_TEXT_SEARCH.get(base_language(code), POSTGRES_FALLBACK)


def question_words(question: str) -> list[str]:
    """The question's distinct words of two letters or more, lower-cased; a long question's first 64.

    Only word characters leave this function, so no query syntax of any search engine can get through.
    """
    words: list[str] = []
    for word in _WORD.findall(question.lower()):
        if len(word) > 1 and word not in words:
            words.append(word)
            if len(words) == MAX_QUESTION_WORDS:
                break
    return words


def folded(text: str) -> str:
    """Lower case without accents: the form FTS5's `unicode61 remove_diacritics 2` tokenizer stores."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(character for character in decomposed if not unicodedata.combining(character))
