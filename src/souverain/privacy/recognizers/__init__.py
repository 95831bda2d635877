"""The recognizers, one module each. A new one is a module and a line in `recognizers()`."""

from __future__ import annotations

from souverain.privacy.base import Recognizer
from souverain.privacy.recognizers.email import EmailRecognizer


def recognizers() -> list[Recognizer]:
    return [EmailRecognizer()]
