"""Ingestion's guarantees: embeddings stay within the tenant's residency; a crash leaves all or nothing."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml

from souverain.testing.fake_backend import FakeBackend
from tests.integration.conftest import RunningGateway
from tests.integration.served import create_key, serve


def test_documents_are_never_embedded_outside_the_residency(
    fake_fr: FakeBackend, gateway_factory: Callable[..., RunningGateway]
) -> None:
    deployment = {
        "site": {"name": "test", "jurisdiction": "LU"},
        "backends": [
            {
                "name": "tei-fr",
                "kind": "openai",
                "url": fake_fr.url,
                "models": ["bge-m3"],
                "jurisdiction": "FR",
            }
        ],
        "tenants": [
            {"name": "lu-only", "residency": ["LU"], "models": []},
            {"name": "eu-wide", "residency": ["EU"], "models": []},
        ],
        "knowledge": {"embedding_model": "bge-m3", "embedding_dimensions": 8},
    }
    gateway = gateway_factory(deployment)
    for tenant, expected in (("lu-only", 403), ("eu-wide", 201)):
        headers = {"Authorization": f"Bearer {gateway.create_key(tenant)}"}
        assert (
            httpx.post(gateway.api + "/collections", json={"name": "c"}, headers=headers).status_code == 201
        )
        response = httpx.post(
            gateway.api + "/collections/c/documents",
            json={"text": "Un texte à indexer."},
            headers=headers,
        )
        assert response.status_code == expected, response.text
        if expected == 403:
            assert response.json()["error"]["code"] == "residency_violation"
            assert fake_fr.stats.embeddings == 0, "an LU-only tenant's text reached the FR server"
    assert fake_fr.stats.embeddings == 1


def test_a_server_killed_mid_ingestion_shows_no_half_document(tmp_path: Path) -> None:
    config = tmp_path / "deployment.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "site": {"name": "t", "jurisdiction": "LU"},
                "tenants": [{"name": "t", "residency": ["LU"], "models": []}],
            }
        )
    )
    data = tmp_path / "data"
    key = create_key("t", data, config)
    headers = {"Authorization": f"Bearer {key}"}
    # Long enough that embedding takes seconds: the kill lands while the upload is being processed.
    text = "\n\n".join(
        f"Paragraphe {i} de la circulaire sur les marchés publics et leurs délais." for i in range(3000)
    )
    with serve(data, config) as running:
        assert (
            httpx.post(running.api + "/collections", json={"name": "c"}, headers=headers).status_code == 201
        )

        def upload() -> None:
            with contextlib.suppress(httpx.TransportError):  # the server dies under it: expected
                httpx.post(
                    running.api + "/collections/c/documents", json={"text": text}, headers=headers, timeout=60
                )

        uploader = threading.Thread(target=upload)
        uploader.start()
        time.sleep(1.5)
        running.process.send_signal(signal.SIGKILL)
        uploader.join(30)

    with serve(data, config) as restarted:
        documents = httpx.get(restarted.api + "/collections/c/documents", headers=headers).json()["data"]
        if documents:  # the upload finished before the kill: then it is whole
            chunks = httpx.get(
                f"{restarted.api}/documents/{documents[0]['id']}/chunks", headers=headers
            ).json()
            assert len(chunks["data"]) > 100
        hits = httpx.post(
            restarted.api + "/search",
            json={"query": "marchés publics", "collections": ["c"]},
            headers=headers,
        ).json()["data"]
        assert bool(hits) == bool(documents), "chunks are searchable only with their document"
