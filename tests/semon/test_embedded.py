"""The embedded default, end to end: `semon up` with nothing configured.

A real `semon up --no-simulate` subprocess on a temporary state directory
and spare ports: embedded PostgreSQL, the amqtt broker, ingest, alerts and
the API. A sample published to its broker reaches its database; Ctrl-C
stops it cleanly; after a kill -9 (which leaves the database server
orphaned and its postmaster.pid behind) it comes up again; the data and
the admin token survive every restart.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from cli.up import READY_LINE
from semon.embedded import EmbeddedPostgres
from semon.embedded_broker import embedded_broker
from semon.mqtt import connect
from tests.support.services import free_port

pytestmark = pytest.mark.slow

# First start: initdb, migrations, imports of every service.
READY_TIMEOUT_S = 60.0
CLEAN_STOP_S = 10.0


@dataclass
class Up:
    """One `semon up` process and what it printed."""

    proc: asyncio.subprocess.Process
    log: Path
    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            text = line.decode(errors="replace").rstrip("\n")
            self.lines.append(text)
            if text.startswith(READY_LINE):
                self.ready.set()

    def output(self) -> str:
        stderr = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(self.lines) + "\n--- stderr ---\n" + stderr[-6000:]

    def field(self, label: str) -> str:
        for line in self.lines:
            if line.strip().startswith(label):
                return line.strip()[len(label) :].split()[0]
        raise AssertionError(f"{label!r} not in the banner:\n{self.output()}")


@dataclass
class Env:
    state_dir: Path
    pg_port: int
    broker_port: int
    api_port: int
    topic_root: str

    def vars(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "MQTT_URL", "SEMON_DATABASE_URL", "SEMON_MQTT_URL")
        }
        suffix = uuid.uuid4().hex[:8]
        env.update(
            SEMON_STATE_DIR=str(self.state_dir),
            SEMON_I18N__LANGUAGE="en",  # the banner's English field names are read below
            SEMON_EMBEDDED__POSTGRES_PORT=str(self.pg_port),
            SEMON_EMBEDDED__BROKER_PORT=str(self.broker_port),
            SEMON_API__PORT=str(self.api_port),
            SEMON_MQTT__TOPIC_ROOT=self.topic_root,
            SEMON_INGEST__CLIENT_ID=f"semon-ingest-{suffix}",
            SEMON_ALERTS__CLIENT_ID=f"semon-alerts-{suffix}",
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/semon"

    @property
    def mqtt_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.broker_port}?version=3"


async def start_up(env: Env, run: int) -> Up:
    log = env.state_dir.parent / f"up-{run}.stderr"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "up",
        "--no-simulate",
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
        env=env.vars(),
        cwd=env.state_dir.parent,
    )
    up = Up(proc, log)
    up.reader = asyncio.create_task(up.read())
    exited = asyncio.create_task(proc.wait())
    ready = asyncio.create_task(up.ready.wait())
    await asyncio.wait(
        {exited, ready}, timeout=READY_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
    )
    exited.cancel()
    if not up.ready.is_set():
        ready.cancel()
        proc.kill()
        await proc.wait()
        pytest.fail(f"semon up not ready (exit {proc.returncode}):\n{up.output()}")
    return up


async def stop_up(up: Up, sig: signal.Signals) -> int:
    up.proc.send_signal(sig)
    try:
        code = await asyncio.wait_for(up.proc.wait(), CLEAN_STOP_S)
    except TimeoutError:
        up.proc.kill()
        await up.proc.wait()
        pytest.fail(f"semon up did not stop within {CLEAN_STOP_S}s of {sig.name}:\n{up.output()}")
    if up.reader is not None:
        await up.reader
    return code


async def wait_row(dsn: str, query: str, args: tuple[object, ...], timeout: float = 20.0) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        async with asyncio.timeout(timeout):
            while not await (await conn.execute(query, args)).fetchone():
                await asyncio.sleep(0.1)  # polling the database: there is no event to wait on


@pytest.fixture
async def env(tmp_path: Path, topic_root: str) -> AsyncIterator[Env]:
    e = Env(tmp_path / "state", free_port(), free_port(), free_port(), topic_root)
    yield e
    # Whatever happened above, leave no server running on the test's data.
    pgdata = e.state_dir / "pgdata"
    if (pgdata / "PG_VERSION").exists():
        await asyncio.to_thread(EmbeddedPostgres(pgdata, port=e.pg_port).stop)


async def test_semon_up_embedded_survives_stop_and_kill(env: Env) -> None:
    elevator = f"E-up-{uuid.uuid4().hex[:6]}"
    ts = datetime.now(UTC).replace(microsecond=0).isoformat()
    sample = {
        "ts": ts,
        "floor": 3,
        "speed": 0.0,
        "direction": "stopped",
        "door": "closed",
        "door_zone": True,
        "occupied": False,
        "trips": 7,
    }
    stored = "SELECT 1 FROM elevator_status WHERE elevator_id = %s AND ts = %s"

    up = await start_up(env, 1)
    try:
        assert up.field("database") == env.dsn
        assert up.field("broker") == env.mqtt_url
        token = up.field("admin token")
        assert (env.state_dir / "admin-token").read_text().strip() == token
        async with connect(env.mqtt_url, f"test-pub-{uuid.uuid4().hex[:8]}") as client:
            client.publish(
                f"{env.topic_root}/elevators/{elevator}/status", json.dumps(sample).encode(), qos=1
            )
            await wait_row(env.dsn, stored, (elevator, ts))
    finally:
        assert await stop_up(up, signal.SIGINT) == 0, up.output()
    assert "semon stopped" in up.lines, up.output()
    # A clean stop stops the database server too.
    assert not (env.state_dir / "pgdata" / "postmaster.pid").exists(), up.output()

    # Second run: the data is where it was left; then kill -9 (no cleanup at all).
    up = await start_up(env, 2)
    try:
        await wait_row(env.dsn, stored, (elevator, ts), timeout=5)
        assert up.field("admin token") == token
    finally:
        up.proc.kill()
        await up.proc.wait()
    assert (env.state_dir / "pgdata" / "postmaster.pid").exists()

    # Third run: the orphaned server and its pid file do not block the start.
    up = await start_up(env, 3)
    try:
        await wait_row(env.dsn, stored, (elevator, ts), timeout=5)
        assert up.field("admin token") == token
    finally:
        assert await stop_up(up, signal.SIGTERM) == 0, up.output()


async def test_embedded_broker_round_trip_with_gmqtt(topic_root: str) -> None:
    """amqtt speaks MQTT 3.1.1 only; the URL it yields makes our gmqtt client use it."""
    got: asyncio.Queue[tuple[str, bytes, int]] = asyncio.Queue()

    async def on_message(topic: str, payload: bytes, qos: int, _props: object) -> int:
        await got.put((topic, payload, qos))
        return 0

    async with embedded_broker("127.0.0.1", free_port()) as url:
        assert url.endswith("?version=3")
        suffix = uuid.uuid4().hex[:8]
        async with (
            connect(url, f"sub-{suffix}", on_message=on_message, manual_ack=True) as sub,
            connect(url, f"pub-{suffix}") as pub,
        ):
            await sub.subscribe((f"{topic_root}/#", 1), timeout_s=5)
            for i in range(20):
                pub.publish(f"{topic_root}/x/{i}", b"%d" % i, qos=1)
            received = [await asyncio.wait_for(got.get(), 5) for _ in range(20)]
    assert [r[1] for r in received] == [b"%d" % i for i in range(20)]
    assert {r[2] for r in received} == {1}


def test_embedded_postgres_restart_keeps_data(tmp_path: Path) -> None:
    """The blocking API tests/support/services.py uses; a second start finds the data."""
    pgdata = tmp_path / "pgdata"
    server = EmbeddedPostgres(pgdata, port=free_port())
    server.start()
    try:
        with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
    finally:
        server.stop()
    again = EmbeddedPostgres(pgdata, port=free_port())
    again.start()
    try:
        with psycopg.connect(again.dsn("postgres")) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
        # One owner per data directory.
        with pytest.raises(RuntimeError, match="in use"):
            EmbeddedPostgres(pgdata, port=free_port()).start()
    finally:
        again.stop()
