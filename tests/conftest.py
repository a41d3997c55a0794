"""Fixtures layered from server to database to settings.

Every session gets a freshly migrated database of its own and every test a
unique MQTT topic root, so test runs (and parallel developers) never meet.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from semon.settings import Settings
from semon.store.commands import migrate_database
from semon.store.pool import open_pool
from tests.support import services

CONTRACT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "contract"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which servers the run fell back to (services.notice)."""
    if services.NOTICES:
        terminalreporter.write_sep("-", "test servers")
        for line in services.NOTICES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def contract_dir() -> Path:
    for candidate in (CONTRACT_DIR, Path(__file__).resolve().parents[1] / "shared" / "contract"):
        if candidate.exists():
            return candidate
    raise RuntimeError("../shared/contract not found beside the repository")


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    with services.admin_postgres() as dsn:
        yield dsn


@pytest.fixture(scope="session")
def database_url(pg_admin_dsn: str) -> Iterator[str]:
    """A migrated database for the whole session (plain PostgreSQL flavour)."""
    with services.fresh_database(pg_admin_dsn) as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        yield dsn


@pytest.fixture
def fresh_database_url(pg_admin_dsn: str) -> Iterator[str]:
    """A migrated database for one test (for tests that need an empty store)."""
    with services.fresh_database(pg_admin_dsn) as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        yield dsn


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    with services.broker() as url:
        yield url


@pytest.fixture
def topic_root() -> str:
    return f"t/{uuid.uuid4().hex[:12]}/se/v1"


@pytest.fixture
def settings(database_url: str, mqtt_url: str, topic_root: str, tmp_path: Path) -> Settings:
    s = Settings(database_url=database_url, mqtt_url=mqtt_url, state_dir=tmp_path / "state")
    s.mqtt.topic_root = topic_root
    suffix = uuid.uuid4().hex[:8]
    s.ingest.client_id = f"semon-ingest-{suffix}"
    s.alerts.client_id = f"semon-alerts-{suffix}"
    return s


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[psycopg.AsyncConnection]]:
    async with open_pool(database_url, min_size=1, max_size=4, name="tests") as p:
        yield p
