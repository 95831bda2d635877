"""The recognizers, one module each. A new one is a module and a line in `recognizers()`."""

from __future__ import annotations

from souverain.config_privacy import PrivacyConfig
from souverain.privacy.analyzer import Analyzer
from souverain.privacy.base import Recognizer
from souverain.privacy.recognizers.birth_dates import BirthDateRecognizer
from souverain.privacy.recognizers.email import EmailRecognizer
from souverain.privacy.recognizers.financial import FinancialRecognizer
from souverain.privacy.recognizers.identifiers import IdentifierRecognizer
from souverain.privacy.recognizers.names import NameRecognizer
from souverain.privacy.recognizers.network import IpRecognizer
from souverain.privacy.recognizers.phones import PhoneRecognizer


def recognizers(config: PrivacyConfig) -> list[Recognizer]:
    found: list[Recognizer] = [
        EmailRecognizer(),
        IdentifierRecognizer(config.min_score),
        FinancialRecognizer(config.min_score),
        PhoneRecognizer(),
        IpRecognizer(),
        BirthDateRecognizer(),
    ]
    if config.names != "off":
        found.append(NameRecognizer(config.name_models, use_spacy=config.names == "spacy"))
    return found


def build_analyzer(config: PrivacyConfig) -> Analyzer:
    """The site's analyzer. Built once by `create_app` (or a CLI command) and shared: recognizers that
    load models do so on first use, once."""
    return Analyzer(recognizers(config), min_score=config.min_score)
