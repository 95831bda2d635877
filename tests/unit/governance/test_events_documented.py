"""Every kind of audit event, and every field it records, is documented in docs/audit.md."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from souverain.governance.audit.events import Event

REFERENCE = Path(__file__).resolve().parents[3] / "docs" / "audit.md"
COMMON = {field.name for field in fields(Event)}  # who and status, documented once for all


@pytest.mark.parametrize("event", Event.__subclasses__(), ids=lambda event: event.kind)
def test_each_event_kind_has_a_section_naming_its_fields(event: type[Event]) -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    heading = f"### `{event.kind}`\n"
    assert heading in text, f"{REFERENCE.name} has no section {heading.strip()!r}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    missing = [field.name for field in fields(event) if field.name not in COMMON]
    missing = [name for name in missing if f"`{name}`" not in section]
    assert not missing, f"the section on `{event.kind}` does not name {missing}"


def test_the_fields_every_record_has_are_documented() -> None:
    common = REFERENCE.read_text(encoding="utf-8").split("## What is recorded", 1)[1].split("\n### ", 1)[0]
    assert all(f"`{name}`" in common for name in COMMON)
