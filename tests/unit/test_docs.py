"""The configuration reference is generated, committed, and covers every setting and deployment key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel

from souverain.cli import app
from souverain.config import (
    BackendConfig,
    Deployment,
    EnergyConfig,
    Limits,
    Settings,
    SiteConfig,
    TenantConfig,
)
from souverain.docs import render_configuration

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

SCHEMA_SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("### Top level", Deployment),
    ("### `site`", SiteConfig),
    ("### `backends[]`", BackendConfig),
    ("### `tenants[]`", TenantConfig),
    ("### `tenants[].limits`", Limits),
    ("### `energy`", EnergyConfig),
]


def section(text: str, heading: str) -> str:
    """The text under `heading`, up to the next heading of any level."""
    assert heading in text, f"{REFERENCE.name} has no section {heading!r}"
    body = text.split(heading, 1)[1]
    return body.split("\n#", 1)[0]


def row(text: str, key: str) -> list[str]:
    """The cells of the table row for `key` (written `key` in backticks in the first column)."""
    for line in text.splitlines():
        if line.startswith(f"| {key} |"):
            return [cell.strip() for cell in line.strip("|").split(" | ")]
    raise AssertionError(f"no table row for {key} in:\n{text}")


def test_the_committed_reference_is_up_to_date() -> None:
    committed = REFERENCE.read_text(encoding="utf-8")

    assert committed == render_configuration(), (
        f"{REFERENCE} is out of date: run `souverain config docs` and commit the result"
    )


@pytest.mark.parametrize("name", list(Settings.model_fields))
def test_every_setting_is_documented_with_its_default_and_what_it_does(name: str) -> None:
    settings = section(REFERENCE.read_text(encoding="utf-8"), "## Settings")
    _variable, _type, default, what = row(settings, f"`SOUVERAIN_{name.upper()}`")

    assert default, f"SOUVERAIN_{name.upper()} has no default in the reference"
    assert what, f"SOUVERAIN_{name.upper()} has no description: give Settings.{name} a description"


@pytest.mark.parametrize(
    ("heading", "model", "name"),
    [
        pytest.param(heading, model, name, id=f"{model.__name__}.{name}")
        for heading, model in SCHEMA_SECTIONS
        for name in model.model_fields
    ],
)
def test_every_deployment_key_is_documented(heading: str, model: type[BaseModel], name: str) -> None:
    text = section(REFERENCE.read_text(encoding="utf-8"), heading)
    _key, _type, default, what = row(text, f"`{name}`")

    assert default, f"{model.__name__}.{name} has no default in the reference"
    assert what, (
        f"{model.__name__}.{name} is listed under {heading!r} without saying what it is: "
        f"give the field a description"
    )


def test_the_settings_defaults_are_the_real_ones() -> None:
    settings = section(REFERENCE.read_text(encoding="utf-8"), "## Settings")

    assert row(settings, "`SOUVERAIN_PORT`")[2] == f"`{Settings().port}`"
    assert row(settings, "`SOUVERAIN_BREAKER_FAILURES`")[2] == f"`{Settings().breaker_failures}`"
    assert row(settings, "`SOUVERAIN_DATABASE_URL`")[2] == "none"


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return [(" ".join(path), command)]
    return [item for name, sub in subcommands.items() for item in _commands(sub, (*path, name))]


@pytest.mark.parametrize(("name", "command"), _commands(typer.main.get_command(app)))
def test_every_command_line_option_has_a_help_text(name: str, command: Any) -> None:
    assert command.help, f"`souverain {name}` has no help text"
    for parameter in command.params:
        assert getattr(parameter, "help", None), f"`souverain {name}` {parameter.opts} has no help text"
