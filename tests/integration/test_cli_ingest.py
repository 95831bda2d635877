"""`souverain ingest`: folders recursively, unchanged files skipped, one bad file never stops a batch, and
each change recorded in the audit log as the operator's."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.integration.governance.records import logged
from tests.integration.served import souverain

DEPLOYMENT = """
site: {name: test, jurisdiction: LU}
tenants:
  - {name: lu-archives, residency: [LU], models: []}
"""


def test_ingest_a_folder_twice(tmp_path: Path) -> None:
    config = tmp_path / "deployment.yaml"
    config.write_text(DEPLOYMENT)
    folder = tmp_path / "circulaires"
    (folder / "2024").mkdir(parents=True)
    (folder / "loi-dupont.md").write_text(
        "# Loi\n\nLe délai de recours de M. Schrobiltgen est de trois mois.\n"
    )
    (folder / "2024" / "note.txt").write_text("La note de service du 4 mars fixe les horaires d'ouverture.")
    (folder / "2024" / "scan.pdf").write_bytes(b"%PDF-1.7 not really a pdf")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (folder / ".hidden.txt").write_text("ignored")
    data = tmp_path / "data"
    options = ["--tenant", "lu-archives", "--collection", "circulaires", "--config", str(config)]

    first = souverain("ingest", str(folder), *options, data_dir=data)
    assert first.returncode == 1, first.stderr  # some files failed: scripts must notice
    assert "2 added, 0 unchanged, 2 failed" in first.stdout
    assert "scan.pdf" in first.stdout and "photo.png" in first.stdout
    assert ".hidden" not in first.stdout

    second = souverain(
        "ingest", str(folder / "loi-dupont.md"), str(folder / "2024" / "note.txt"), *options, data_dir=data
    )
    assert second.returncode == 0, second.stderr
    assert "0 added, 2 unchanged, 0 failed" in second.stdout

    changes, fault = logged(f"sqlite:///{data / 'souverain.db'}", "document_change")
    assert fault is None
    bodies = [orjson.loads(change.body) for change in changes]
    assert all(
        (body["principal"], body["role"], body["tenant"]) == ("cli", "operator", "lu-archives")
        for body in bodies
    )
    # The collection made, two files added, then found again; the files that failed were bad input.
    assert [(body["action"], body["documents"]) for body in bodies] == [
        ("collection.create", 0),
        ("document.upload", 1),
        ("document.upload", 1),
        ("document.upload", 0),
        ("document.upload", 0),
    ]
    assert all(body["status"] == "ok" and body["collection"] == "circulaires" for body in bodies)
    assert not any(
        name in change.body for change in changes for name in ("dupont", "Schrobiltgen", "note.txt")
    )
