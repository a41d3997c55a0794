"""Finding (or starting) the real servers the tests talk to.

The machine's PostgreSQL and Mosquitto are used when they answer; where one
is missing the suite says so (`notice`, printed at once and again in the
terminal summary) and starts its own (embedded PostgreSQL, a private
Mosquitto) rather than skip anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_MQTT = "mqtt://127.0.0.1:1883"

# What the person running the suite should know about the servers it uses;
# tests/conftest.py prints these in the terminal summary.
NOTICES: list[str] = []


def notice(message: str) -> None:
    """Tell the person running the tests, now and in the summary.

    Not a warning: the suite runs with ``filterwarnings = error`` (so leaks
    fail), which would turn this promised fallback into an error of every
    test that needs the server."""
    NOTICES.append(message)
    print(f"semon tests: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port, 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def with_database(dsn: str, dbname: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + dbname))


def pg_reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@contextlib.contextmanager
def admin_postgres() -> Iterator[str]:
    """A DSN of a PostgreSQL server on which tests may create databases."""
    dsn = os.environ.get("SEMON_TEST_DATABASE_URL", DEFAULT_PG)
    if pg_reachable(dsn):
        yield dsn
        return
    with embedded_postgres_server() as embedded:
        notice(
            f"PostgreSQL at {dsn} does not answer: the suite runs on an embedded one ({embedded})"
        )
        yield embedded


@contextlib.contextmanager
def embedded_postgres_server() -> Iterator[str]:
    from semon.embedded import EmbeddedPostgres

    with tempfile.TemporaryDirectory(prefix="semon-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", port=free_port())
        server.start()
        try:
            yield server.dsn("postgres")
        finally:
            server.stop()


@contextlib.contextmanager
def fresh_database(admin_dsn: str, prefix: str = "semon_t") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_dsn, name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def mosquitto(
    port: int | None = None, extra_conf: str = "", data_dir: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A private Mosquitto on a spare loopback port (tests that stop brokers use this)."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="semon-mq-") as tmp:
        # Mosquitto started as root drops to the `mosquitto` user, which must be
        # able to write its persistence file or sessions are silently not kept.
        Path(tmp).chmod(0o777)
        conf = Path(tmp) / "mosquitto.conf"
        persist = data_dir or Path(tmp)
        conf.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {persist}/\n"
            "max_queued_messages 1000000\nmax_inflight_messages 5000\n"
            "max_queued_bytes 0\n" + extra_conf
        )
        proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_port("127.0.0.1", port)
            yield f"mqtt://127.0.0.1:{port}", proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()


@contextlib.contextmanager
def broker() -> Iterator[str]:
    """The machine's Mosquitto if it answers, else a private one."""
    url = os.environ.get("SEMON_TEST_MQTT_URL", DEFAULT_MQTT)
    parts = urlsplit(url)
    if port_open(parts.hostname or "127.0.0.1", parts.port or 1883):
        yield url
        return
    with mosquitto() as (own, _proc):
        notice(f"no MQTT broker at {url}: the suite runs on a private Mosquitto ({own})")
        yield own
