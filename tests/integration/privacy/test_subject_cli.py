"""`souverain privacy export` and `erase` as a data-protection officer runs them: the answer as JSON, a
confirmation before anything is erased, the certificate without the value, each recorded as `cli`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.governance.records import logged_bodies
from tests.integration.served import souverain

DEPLOYMENT = """
site: {name: test, jurisdiction: LU}
tenants:
  - {name: lu-archives, residency: [LU], models: [], pii: {erasure: redact}}
"""
MARIE = "marie.schmit@example.lu"


def test_export_then_erase_from_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "deployment.yaml"
    config.write_text(DEPLOYMENT)
    folder = tmp_path / "courrier"
    folder.mkdir()
    (folder / "lettre.txt").write_text(f"Réponse envoyée à {MARIE} le 4 mars au sujet du recours.")
    (folder / "note.txt").write_text("La note de service du 4 mars fixe les horaires d'ouverture.")
    data = tmp_path / "data"
    tenant = ["--tenant", "lu-archives", "--config", str(config)]
    ingested = souverain("ingest", str(folder), "--collection", "courrier", *tenant, data_dir=data)
    assert ingested.returncode == 0, ingested.stderr

    exported = souverain("privacy", "export", *tenant, "--subject", MARIE.upper(), data_dir=data)
    assert exported.returncode == 0, exported.stderr
    found = json.loads(exported.stdout)
    assert [document["title"] for document in found["documents"]] == ["lettre.txt"]

    refused = souverain("privacy", "erase", *tenant, "--subject", MARIE, data_dir=data, input="n\n")
    assert refused.returncode == 1 and "cannot be undone" in refused.stdout
    erased = souverain("privacy", "erase", *tenant, "--subject", MARIE, "--yes", data_dir=data)
    assert erased.returncode == 0, erased.stderr
    certificate = json.loads(erased.stdout)
    assert certificate["mode"] == "redact"  # the tenant's setting
    assert certificate["documents"]["redacted"] == [found["documents"][0]["id"]]
    assert MARIE not in erased.stdout.lower()

    bodies, fault = logged_bodies(f"sqlite:///{data / 'souverain.db'}", "subject_access", "erasure")
    assert fault is None
    assert [(body["kind"], body["principal"]) for body in bodies] == [
        ("subject_access", "cli"),
        ("erasure", "cli"),
    ]
    assert bodies[1]["certificate"] == certificate["certificate"]


def test_bad_input_is_named_without_echoing_the_value(tmp_path: Path) -> None:
    config = tmp_path / "deployment.yaml"
    config.write_text(DEPLOYMENT)
    data = tmp_path / "data"
    unknown = souverain(
        "privacy", "export", "--tenant", "nobody", "--subject", MARIE, "--config", str(config), data_dir=data
    )
    assert unknown.returncode == 1 and "unknown tenant 'nobody'" in unknown.stderr
    assert MARIE not in unknown.stderr + unknown.stdout
    options = ["--tenant", "lu-archives", "--config", str(config), "--yes"]
    empty = souverain("privacy", "erase", "--subject", " ", *options, data_dir=data)
    assert empty.returncode == 1 and "subject is empty" in empty.stderr
