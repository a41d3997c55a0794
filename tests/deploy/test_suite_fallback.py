"""The suite's promise: with the machine's PostgreSQL and Mosquitto out of
reach it runs on an embedded PostgreSQL and a private Mosquitto, says so in
the terminal summary, and passes (not one error per test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# A piece of the suite that needs both servers: migrations on the database,
# and every contract example through the broker into the database.
PIECE = [
    "tests/semon/test_migrations.py",
    "tests/ingest/test_validation.py::test_every_contract_example_through_the_broker",
]


def test_the_suite_falls_back_to_its_own_servers(tmp_path: Path) -> None:
    # Ports nothing listens on (bound for a moment, then closed).
    pg_port, mqtt_port = free_port(), free_port()
    env = {
        **os.environ,
        "SEMON_TEST_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg_port}/test",
        "SEMON_TEST_MQTT_URL": f"mqtt://127.0.0.1:{mqtt_port}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *PIECE],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    summary = done.stdout[done.stdout.index("test servers") :]
    assert f"PostgreSQL at postgresql://postgres@127.0.0.1:{pg_port}/test does not answer" in (
        summary
    )
    assert f"no MQTT broker at mqtt://127.0.0.1:{mqtt_port}" in summary
    assert "error" not in done.stdout.splitlines()[-1], done.stdout[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
