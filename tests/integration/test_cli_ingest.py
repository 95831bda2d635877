"""`souverain ingest`: folders recursively, unchanged files skipped, one bad file never stops a batch."""

from __future__ import annotations

from pathlib import Path

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
    (folder / "loi.md").write_text("# Loi\n\nLe délai de recours est de trois mois.\n")
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
        "ingest", str(folder / "loi.md"), str(folder / "2024" / "note.txt"), *options, data_dir=data
    )
    assert second.returncode == 0, second.stderr
    assert "0 added, 2 unchanged, 0 failed" in second.stdout
