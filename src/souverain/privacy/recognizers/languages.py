"""Which language a text is in, for the recognizers that depend on it (names, phone numbers): the
caller's hint when given, else a guess from the text itself."""

from __future__ import annotations

from souverain.knowledge.chunking import detect_language
from souverain.knowledge.languages import base_language
from souverain.privacy.shared_work import shared

# Detection reads spread windows of the text (knowledge.chunking); a 10 MB text costs no more than a page.


def text_language(text: str, hint: str | None) -> str:
    """The ISO 639-1 code of `hint` when given, else of the text's detected language; "" when unsure."""
    if hint:
        return base_language(hint)
    # Names and phones both ask: detected once per analysis.
    return shared((detect_language, text), lambda: detect_language(text))


# The region whose national phone formats a language's writers use first. English is written in two
# member states (IE, MT); the UK is kept because its numbers are common in EU correspondence.
LANGUAGE_REGIONS: dict[str, tuple[str, ...]] = {
    "bg": ("BG",),
    "cs": ("CZ",),
    "da": ("DK",),
    "de": ("DE", "AT"),
    "el": ("GR", "CY"),
    "en": ("IE", "GB", "MT"),
    "es": ("ES",),
    "et": ("EE",),
    "fi": ("FI",),
    "fr": ("FR", "BE", "LU"),
    "ga": ("IE",),
    "hr": ("HR",),
    "hu": ("HU",),
    "it": ("IT",),
    "lb": ("LU",),
    "lt": ("LT",),
    "lv": ("LV",),
    "mt": ("MT",),
    "nl": ("NL", "BE"),
    "pl": ("PL",),
    "pt": ("PT",),
    "ro": ("RO",),
    "sk": ("SK",),
    "sl": ("SI",),
    "sv": ("SE", "FI"),
}
