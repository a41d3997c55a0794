"""`semon up`'s embedded broker opened to a network: terminals log in with
the passwords `semon broker password` derives (the same as the Mosquitto
files), a wrong or missing one is refused, and a terminal publishes under
its own id only. Without a device secret `semon up` will not listen beyond
loopback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from semon.broker_files import device_password
from semon.embedded_broker import embedded_broker
from semon.mqtt import MqttConnectError, connect
from tests.support.services import free_port

SECRET = "a-device-secret-of-some-length"


def _device_url(port: int, username: str, password: str) -> str:
    return f"mqtt://{username}:{password}@127.0.0.1:{port}?version=3"


async def test_devices_log_in_with_their_derived_password(topic_root: str) -> None:
    got: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(topic: str, payload: bytes, qos: int, _props: object) -> int:
        await got.put(topic)
        return 0

    port = free_port()
    suffix = uuid.uuid4().hex[:8]
    async with embedded_broker(
        "127.0.0.1", port, device_secret=SECRET, topic_root=topic_root
    ) as service_url:
        assert "semon-up:" in service_url
        right = device_password(SECRET, "elevator", "E1")
        for username, password in (
            ("elevator.E1", "wrong-password-wrong-password-xx"),
            ("elevator.E2", right),  # E1's password is not E2's
            ("semon-up", right),
        ):
            with pytest.raises(MqttConnectError):
                async with connect(
                    _device_url(port, username, password),
                    f"bad-{suffix}",
                    retry_connect=False,
                    connect_timeout_s=5,
                ):
                    pass
        with pytest.raises(MqttConnectError):  # anonymous
            async with connect(
                f"mqtt://127.0.0.1:{port}?version=3",
                f"anon-{suffix}",
                retry_connect=False,
                connect_timeout_s=5,
            ):
                pass

        async with (
            connect(service_url, f"sub-{suffix}", on_message=on_message) as sub,
            connect(
                _device_url(port, "elevator.E1", right),
                f"dev-{suffix}",
                retry_connect=False,
                connect_timeout_s=5,
            ) as device,
        ):
            await sub.subscribe((f"{topic_root}/#", 1), timeout_s=5)
            # Another terminal's topic, then its own: only its own arrives.
            device.publish(f"{topic_root}/elevators/E2/status", b"{}", qos=1)
            device.publish(f"{topic_root}/elevators/E1/status", b"{}", qos=1)
            assert await asyncio.wait_for(got.get(), 5) == f"{topic_root}/elevators/E1/status"
            await asyncio.sleep(0.3)
            assert got.empty()


def test_up_will_not_open_the_broker_without_logins(
    tmp_path: Path, fresh_database_url: str
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k != "MQTT_URL"},
        "DATABASE_URL": fresh_database_url,
        "SEMON_EMBEDDED__BROKER_HOST": "0.0.0.0",
        "SEMON_EMBEDDED__BROKER_PORT": str(free_port()),
        "SEMON_BROKER__DEVICE_SECRET": "",
        "SEMON_STATE_DIR": str(tmp_path),
        "SEMON_LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cli", "up", "--no-simulate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "SEMON_BROKER__DEVICE_SECRET" in result.stderr
    assert "Traceback" not in result.stderr
