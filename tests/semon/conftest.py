"""Storage fixtures: a real TimescaleDB (PGlite + TimescaleDB from npm).

The plain-PostgreSQL side uses the top-level fixtures (`fresh_database_url`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from semon.settings import Settings
from semon.store.commands import migrate_database
from tests.support.timescale import timescale_server


@pytest.fixture(scope="session")
def timescale_url() -> Iterator[str]:
    """A migrated TimescaleDB for the session. One connection at a time:
    close each connection before opening the next (a second waits)."""
    # Started without the extension created, as a fresh server is: the
    # migration runner must detect TimescaleDB and create it.
    with timescale_server(create_extension=False) as dsn:
        asyncio.run(migrate_database(dsn, Settings(database_url=dsn)))
        yield dsn
