"""What every `souverain` subcommand shares: the consoles, the --config option, settings and the
deployment read once, and coroutines run with errors rendered as exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from souverain.app import load
from souverain.config import Deployment, Settings
from souverain.errors import ConfigError, SouverainError

T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Deployment file (YAML). Default: $SOUVERAIN_CONFIG, else the demo."),
]


def settings_for(config: Path | None, **overrides: Any) -> Settings:
    settings = Settings()
    updates = {name: value for name, value in overrides.items() if value is not None}
    if config is not None:
        updates["config"] = config
    return settings.model_copy(update=updates) if updates else settings


def deployment_of(settings: Settings) -> Deployment:
    try:
        return load(settings)
    except ConfigError as error:
        err.print(f"[red]invalid configuration[/red] {error.message}")
        raise typer.Exit(2) from None


def run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except ConfigError as error:
        err.print(f"[red]invalid configuration[/red] {error.message}")
        raise typer.Exit(2) from None
    except SouverainError as error:
        err.print(f"[red]error:[/red] {error.message}")
        raise typer.Exit(1) from None
