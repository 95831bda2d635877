"""What recognizers share of a text lives for one analysis and no longer."""

from __future__ import annotations

import pytest

from souverain.config_privacy import PrivacyConfig
from souverain.privacy import candidates, shared_work
from souverain.privacy.recognizers import build_analyzer


def test_a_text_is_cut_into_tokens_once_per_analysis_and_forgotten_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cut: list[str] = []
    original = candidates._cut

    def counting(text: str) -> candidates.NumberTokens:
        cut.append(text)
        return original(text)

    monkeypatch.setattr(candidates, "_cut", counting)
    analyzer = build_analyzer(PrivacyConfig(names="off"))
    text = "IBAN LU28 0019 4006 4475 0000, matricule 1893120105732."
    found = analyzer.analyze(text, "fr")
    assert {entity.recognizer for entity in found} == {"identifiers", "financial"}
    assert cut == [text]  # both recognizers read the one cut
    assert shared_work._current.get() is None  # and nothing of it is held once the analysis is over
    analyzer.analyze(text, "fr")
    assert cut == [text, text]  # a new analysis cuts again: nothing was cached across calls
