"""Data subjects' requests on both stores: the export finds exactly what mentions a person; after an
erasure (documents deleted, or mentions redacted in place) the person's e-mail address is nowhere in the
store's bytes, another person's data is intact, and search no longer finds them."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from souverain.api.deps import Services
from souverain.errors import InvalidRequest
from souverain.governance.audit.events import operator
from souverain.governance.audit.log import stored_records
from souverain.knowledge.service import Upload
from souverain.privacy.redaction import ERASED
from souverain.store.models import SubjectMentionRow
from souverain.tenancy.principal import Principal
from tests.integration.privacy.services import started

MARIE = "marie.schmit@example.lu"
JEAN = "jean.weber@example.lu"
# The ways a person might write, or a store might keep, Marie's address.
MARIE_VARIANTS = (MARIE, MARIE.upper(), "marie.schmit@example", "marie.schmit", "schmit")
TRIAGE = {
    "name": "triage",
    "purpose": "Sort incoming claims for a caseworker.",
    "legal_basis": "GDPR art. 6(1)(e)",
    "risk": "high",
    "annex_iii": "essential_services",
    "owner": "Caisse",
}
RAW = {
    "site": {"name": "test", "jurisdiction": "LU"},
    "tenants": [
        {"name": "lu-health", "residency": ["LU"], "models": [], "use_cases": [TRIAGE]},
        {"name": "lu-other", "residency": ["LU"], "models": []},
    ],
}
CLAIM = f"""# Allocation familiale

La demande d'allocation familiale est suivie par la caisse à l'adresse {MARIE} jusqu'à la décision.

# Pièces

Les pièces justificatives sont le certificat de naissance et le livret de famille.
"""
BOTH = f"""# Correspondance

Le dossier de logement a été transmis par {JEAN} au service compétent.

# Suite

La demanderesse, {MARIE.upper()}, sera informée de la suite par courrier.
"""
JEAN_ONLY = f"La subvention de rénovation énergétique est suivie par {JEAN} au ministère."


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    async with started(RAW, database_url, tmp_path) as built:
        yield built


async def principal(services: Services, tenant: str = "lu-health") -> Principal:
    _, secret = await services.keys.create(
        by=operator(tenant), tenant=tenant, role="admin", use_case="triage"
    )
    return await services.keys.authenticate(secret)


async def fill(services: Services) -> dict[str, str]:
    """Three documents (Marie's, both people's, Jean's), one answer and one held output naming Marie."""
    tenant = services.deployment.tenants[0]
    await services.knowledge.create_collection(tenant, "claims")
    ids = {}
    for name, text in (("claim", CLAIM), ("both", BOTH), ("jean", JEAN_ONLY)):
        upload = Upload(text.encode(), filename=f"{name}.md", title=f"Dossier {name}")
        ingested = await services.knowledge.ingest(tenant, "SECRET", "claims", upload)
        ids[name] = ingested.document.id
    caller = await principal(services)
    answer = await services.answerer.answer(
        caller,
        "PUBLIC",
        "À quelle adresse la caisse suit-elle la demande d'allocation familiale ?",
        ["claims"],
    )
    ids["answer"] = answer.id
    output = orjson.dumps({"choices": [{"message": {"content": f"Écrire à {MARIE}."}}]})
    held = await services.reviews.hold(
        caller, "chat", "m", [{"role": "user", "content": MARIE}], output, None
    )
    ids["review"] = held.id
    return ids


def store_bytes(services: Services, database_url: str) -> bytes:
    """Every byte the store holds: the SQLite file and its companions, or a PostgreSQL dump."""
    if database_url.startswith("sqlite"):
        database = Path(services.database.sync_url.database or "")
        files = [database, *(Path(f"{database}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]
        return b"".join(path.read_bytes() for path in files if path.exists())
    import pgserver

    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    pg_dump = str(bundled) if bundled.exists() else shutil.which("pg_dump")
    assert pg_dump, "no pg_dump to check the store with"
    return subprocess.run([pg_dump, "--dbname", database_url], check=True, capture_output=True).stdout


def assert_absent(data: bytes, *values: str) -> None:
    lowered = data.lower()
    for value in values:
        assert value.lower().encode() not in lowered, f"{value!r} is still in the store"


async def searched(services: Services, query: str) -> list[str]:
    tenant = services.deployment.tenants[0]
    retrieval = await services.searcher.search(tenant, "SECRET", "PUBLIC", query, ["claims"], 10)
    return [result.chunk.text for result in retrieval.results]


async def test_the_export_holds_exactly_what_mentions_the_person(services: Services) -> None:
    ids = await fill(services)
    tenant = services.deployment.tenants[0]

    export = await services.subject_requests.export(
        tenant, "  Marie.Schmit@Example.LU ", operator(tenant.name)
    )

    assert {document["id"] for document in export["documents"]} == {ids["claim"], ids["both"]}
    chunks = [chunk["text"] for document in export["documents"] for chunk in document["chunks"]]
    assert chunks and all(MARIE in chunk.lower() for chunk in chunks)
    assert [review["id"] for review in export["reviews"]] == [ids["review"]]
    assert export["reviews"][0]["request"] == [{"role": "user", "content": MARIE}]  # unsealed for them
    assert export["counts"]["documents"] == 2 and export["counts"]["chunks"] == len(chunks)
    jean = await services.subject_requests.export(tenant, JEAN, operator(tenant.name))
    assert {document["id"] for document in jean["documents"]} == {ids["both"], ids["jean"]}
    other = services.deployment.tenants[1]
    assert (await services.subject_requests.export(other, MARIE, operator(other.name)))["documents"] == []


async def test_an_answer_that_quotes_the_person_is_part_of_their_export(services: Services) -> None:
    ids = await fill(services)
    tenant = services.deployment.tenants[0]
    explanation = await services.answerer.explanation(await principal(services), ids["answer"])
    export = await services.subject_requests.export(tenant, MARIE, operator(tenant.name))
    assert MARIE in orjson.dumps(explanation).decode(), "the extractive answer quotes her passage"
    assert [answer["id"] for answer in export["answers"]] == [ids["answer"]]


@pytest.mark.parametrize("mode", ["delete", "redact"])
async def test_after_an_erasure_the_address_is_nowhere_in_the_store(
    services: Services, database_url: str, mode: Any
) -> None:
    ids = await fill(services)
    tenant = services.deployment.tenants[0]
    # As in a store that has run for a while: the pages are in the database file, not only in its log.
    assert await services.database.reclaim(())
    assert MARIE.encode() in store_bytes(services, database_url).lower()

    certificate = await services.subject_requests.erase(tenant, MARIE, operator(tenant.name), mode)

    assert_absent(store_bytes(services, database_url), *MARIE_VARIANTS)
    assert MARIE not in orjson.dumps(certificate).decode().lower()
    kept = "deleted" if mode == "delete" else "redacted"
    assert set(certificate["documents"][kept]) == {ids["claim"], ids["both"]}
    assert certificate["reviews"]["erased"] == [ids["review"]]
    assert certificate["answers"]["deleted"] == [ids["answer"]]
    assert certificate["by"]["principal"] == "cli" and certificate["store_reclaimed"]
    # Jean's documents are intact, and still found.
    jean = await services.subject_requests.export(tenant, JEAN, operator(tenant.name))
    expected = {ids["jean"]} if mode == "delete" else {ids["jean"], ids["both"]}
    assert {document["id"] for document in jean["documents"]} == expected
    assert any(JEAN in text for text in await searched(services, "rénovation énergétique"))
    # Marie is found nowhere, neither by her address nor by what surrounded it.
    assert not any(MARIE in text.lower() for text in await searched(services, MARIE))
    hits = await searched(services, "allocation familiale suivie par la caisse")
    if mode == "redact":
        assert any(ERASED in text for text in hits), "the rest of the redacted document is kept"
    else:
        assert not any("suivie par la caisse" in text for text in hits)
    again = await services.subject_requests.export(tenant, MARIE, operator(tenant.name))
    assert again["counts"] | {"withheld": 0} == {key: 0 for key in again["counts"]}
    records = [orjson.loads(record.body) async for record in stored_records(services.database)]
    erasures = [record for record in records if record["kind"] == "erasure"]
    assert [record["certificate"] for record in erasures] == [certificate["certificate"]]
    async with services.database.session() as session:
        left = await session.scalar(select(func.count()).select_from(SubjectMentionRow))
    assert left, "the other person's mentions are kept"


async def test_an_empty_subject_is_refused_naming_the_field(services: Services) -> None:
    tenant = services.deployment.tenants[0]
    for value in ("", "   ", "\u200b"):
        with pytest.raises(InvalidRequest) as refused:
            await services.subject_requests.erase(tenant, value, operator(tenant.name))
        assert refused.value.param == "subject"


async def test_a_deleted_document_takes_its_mentions_with_it(services: Services) -> None:
    ids = await fill(services)
    tenant = services.deployment.tenants[0]
    await services.knowledge.delete_document(tenant, "SECRET", ids["claim"])
    async with services.database.session() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(SubjectMentionRow)
            .where(SubjectMentionRow.document_id == ids["claim"])
        )
    assert left == 0
