"""The deploy/ Mosquitto config, run for real with the files `semon broker files`
writes from a small registry: nobody anonymous, a terminal publishes under its
own id only, the ingest service user receives what terminals publish."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from semon.broker_files import device_password
from semon.mqtt import MqttConnectError, connect
from tests.support import services

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
SECRET = "test-device-secret-" + "x" * 16
INGEST_PASSWORD = "ingest-" + uuid.uuid4().hex


def adapt_conf(text: str, port: int, tmp: Path) -> str:
    """The deploy config with the container's port and paths moved to a spare
    port and temp dirs; every other line is kept as written."""
    text = re.sub(r"^listener 1883$", f"listener {port} 127.0.0.1", text, flags=re.M)
    text = text.replace("/mosquitto/auth/", f"{tmp}/auth/").replace(
        "/mosquitto/data/", f"{tmp}/data/"
    )
    text = re.sub(r"^log_dest stdout$", f"log_dest file {tmp}/mosquitto.log", text, flags=re.M)
    if os.geteuid() == 0:
        # Started as root Mosquitto drops to the `mosquitto` user, which cannot
        # enter pytest's private temp dirs (the container chowns /mosquitto instead).
        text += "\nuser root\n"
    settings = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert not any("/mosquitto/" in ln for ln in settings)
    return text


@pytest.fixture
def registry_ids(database_url: str) -> Iterator[tuple[str, str, str]]:
    tag = uuid.uuid4().hex[:8]
    own, other, station = f"EL-{tag}-A", f"EL-{tag}-B", f"ST-{tag}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        for eid in (own, other):
            conn.execute(
                "INSERT INTO elevators (elevator_id, address, district, use_unit, installed_on)"
                " VALUES (%s, 'Test Road 1', 'test', 'unit', '2020-01-01')",
                (eid,),
            )
        conn.execute(
            "INSERT INTO stations (station_id, name, district) VALUES (%s, 'S', 'test')",
            (station,),
        )
    yield own, other, station
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM elevators WHERE elevator_id IN (%s, %s)", (own, other))
        conn.execute("DELETE FROM stations WHERE station_id = %s", (station,))


@pytest.fixture
def deploy_broker(
    database_url: str, registry_ids: tuple[str, str, str], tmp_path: Path
) -> Iterator[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SEMON_BROKER__DEVICE_SECRET": SECRET,
        "SEMON_BROKER__INGEST_PASSWORD": INGEST_PASSWORD,
        "SEMON_LOG_LEVEL": "WARNING",
    }
    (tmp_path / "data").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "cli", "broker", "files", "--out", str(tmp_path / "auth")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "个终端" in done.stdout  # the platform's language: zh-CN by default
    assert (tmp_path / "auth" / "passwd").stat().st_mode & 0o077 == 0
    port = services.free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(adapt_conf(CONF.read_text(), port, tmp_path))
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        try:
            services.wait_port("127.0.0.1", port, timeout=10)
        except TimeoutError:
            proc.kill()
            assert proc.stderr is not None
            raise AssertionError(f"mosquitto did not start: {proc.stderr.read()!r}") from None
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(5)
        assert proc.stderr is not None
        proc.stderr.close()


async def refused(url: str) -> bool:
    try:
        async with connect(
            url, f"t-{uuid.uuid4().hex[:8]}", retry_connect=False, connect_timeout_s=5
        ):
            return False
    except MqttConnectError:
        return True


async def test_deploy_mosquitto_acl(deploy_broker: str, registry_ids: tuple[str, str, str]) -> None:
    own, other, station = registry_ids
    hostport = deploy_broker
    root = "se/v1"
    # anonymous and wrong passwords are refused
    assert await refused(f"mqtt://{hostport}")
    assert await refused(f"mqtt://elevator.{own}:wrong-password@{hostport}")

    received: list[str] = []
    got = asyncio.Event()
    # the markers the two publishing clients send last
    markers = {f"{root}/elevators/{own}/done", f"{root}/stations/{station}/done"}

    async def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> None:
        received.append(topic)
        if markers <= set(received):
            got.set()

    own_pw = device_password(SECRET, "elevator", own)
    station_pw = device_password(SECRET, "station", station)
    async with (
        connect(
            f"mqtt://semon-ingest:{INGEST_PASSWORD}@{hostport}",
            f"ing-{uuid.uuid4().hex[:8]}",
            on_message=on_message,
            retry_connect=False,
        ) as ingest,
        connect(
            f"mqtt://elevator.{own}:{own_pw}@{hostport}",
            f"dev-{uuid.uuid4().hex[:8]}",
            retry_connect=False,
        ) as terminal,
        connect(
            f"mqtt://station.{station}:{station_pw}@{hostport}",
            f"st-{uuid.uuid4().hex[:8]}",
            retry_connect=False,
        ) as st,
    ):
        # the shared subscription form ingest uses when scaled
        await ingest.subscribe((f"$share/ingest/{root}/#", 1))
        payload = b'{"ts": 0}'
        # refused / not delivered: another elevator's id, a station's topic, the alert topic
        terminal.publish(f"{root}/elevators/{other}/status", payload, qos=1)
        terminal.publish(f"{root}/stations/{station}/filling", payload, qos=1)
        terminal.publish(f"{root}/alerts/trapped_passenger/{own}", payload, qos=1)
        st.publish(f"{root}/elevators/{own}/status", payload, qos=1)
        # accepted: under its own id
        terminal.publish(f"{root}/elevators/{own}/status", payload, qos=1)
        st.publish(f"{root}/stations/{station}/filling", payload, qos=1)
        # a marker from each client, published last: once both arrived, every
        # earlier publish of either client has been judged (per-client order)
        terminal.publish(f"{root}/elevators/{own}/done", payload, qos=1)
        st.publish(f"{root}/stations/{station}/done", payload, qos=1)
        await asyncio.wait_for(got.wait(), 10)
    assert f"{root}/elevators/{own}/status" in received
    assert f"{root}/stations/{station}/filling" in received
    assert f"{root}/elevators/{other}/status" not in received
    assert f"{root}/alerts/trapped_passenger/{own}" not in received
    assert received.count(f"{root}/elevators/{own}/status") == 1  # the station's was refused


def test_broker_files_refuse_without_secret_and_print_passwords(
    database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "SEMON_BROKER__DEVICE_SECRET": "short"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "broker", "files", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "SEMON_BROKER__DEVICE_SECRET" in done.stderr
    assert not (tmp_path / "passwd").exists()
    env["SEMON_BROKER__DEVICE_SECRET"] = SECRET
    done = subprocess.run(
        [sys.executable, "-m", "cli", "broker", "password", "elevator", "E-1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    # what the provisioning tool hands the terminal is what the broker checks
    assert done.stdout.strip() == device_password(SECRET, "elevator", "E-1")
    assert device_password(SECRET, "elevator", "E-1") != device_password(SECRET, "station", "E-1")
    bad = subprocess.run(
        [sys.executable, "-m", "cli", "broker", "password", "elevator", "E/1#"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "不是有效的标识符" in bad.stderr  # zh-CN, the default
