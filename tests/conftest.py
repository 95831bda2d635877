"""Stores for the tests: a fresh, empty database per test, on SQLite and on PostgreSQL.

PostgreSQL is one server for the whole session, either the one `SOUVERAIN_TEST_POSTGRES_URL` names
(the tests create and drop databases on it) or one started from the `pgserver` wheel (PostgreSQL 16
with pgvector) in a temporary folder. Select or skip the PostgreSQL tests with `-m postgres`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from souverain.governance.audit.log import AuditLog
from souverain.store.database import Database

POSTGRES_URL_VARIABLE = "SOUVERAIN_TEST_POSTGRES_URL"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that asks for PostgreSQL by fixture is a PostgreSQL test, so `-m "not postgres"` skips it.
    for item in items:
        if "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


def _libpq_url(url: str, database: str | None = None) -> str:
    """The URL as psycopg (libpq) reads it: no SQLAlchemy driver suffix, optionally another database."""
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _start_pgserver() -> Iterator[str]:
    # PostgreSQL refuses to run as root. When the euid is 0 (CI containers, this machine), pgserver
    # creates an unprivileged system user `pgserver` (with `useradd`, once per machine), runs initdb
    # and postgres as that user, chowns the data folder to it and opens read and traverse permission
    # on the folder's parents. So the data folder lives in a fresh `mkdtemp` folder rather than under
    # pytest's private (0700) base temp folder, which pgserver would otherwise open to everyone.
    # Where `useradd` is missing, point SOUVERAIN_TEST_POSTGRES_URL at a server instead.
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (it is, in most containers).
        warnings.simplefilter("ignore")
        from pgserver.postgres_server import get_server

    parent = Path(tempfile.mkdtemp(prefix="souverain-pg-"))
    try:
        server = get_server(parent / "pgdata", cleanup_mode="delete")
    except Exception as error:
        shutil.rmtree(parent, ignore_errors=True)
        pytest.fail(
            f"could not start PostgreSQL from pgserver ({error!r}); set {POSTGRES_URL_VARIABLE} to a "
            "server's URL, or leave these tests out with -m 'not postgres'"
        )
    try:
        url = server.get_uri()
        with psycopg.connect(url, autocommit=True) as connection:
            # A throwaway server need not survive a power cut: skipping fsync makes CREATE DATABASE
            # and every commit several times faster.
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                connection.execute(f"ALTER SYSTEM SET {setting} = off")
            connection.execute("SELECT pg_reload_conf()")
        yield url
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """URL of the session's PostgreSQL server (its maintenance database), started on first use."""
    given = os.environ.get(POSTGRES_URL_VARIABLE)
    if given:
        yield given
    else:
        yield from _start_pgserver()


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(postgres_server_url), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    try:
        yield _libpq_url(postgres_server_url, database=name)
    finally:
        with psycopg.connect(_libpq_url(postgres_server_url), autocommit=True) as connection:
            # FORCE (PostgreSQL 13+) ends connections a failed test may have left open.
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of a fresh, empty database, once on each store."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'souverain.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A migrated store, closed after the test."""
    store = Database(database_url)
    store.migrate()
    yield store
    await store.close()


@pytest.fixture
async def audit(database: Database) -> AsyncIterator[AuditLog]:
    """A running audit log on the test's store; every record pending is written before the test ends."""
    log = AuditLog(database, "lu-gov-1")
    await log.start()
    yield log
    await log.close()
