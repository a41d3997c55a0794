"""The load publisher through the real broker: paced, reported, nothing lost."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import pytest

from semon.domain.wire import STATUS_SAMPLE
from semon.mqtt import connect
from semon.settings import Settings
from simulators.load import run_load


async def test_load_publishes_the_target_rate_and_reports_it(
    mqtt_url: str, topic_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(mqtt_url=mqtt_url)
    settings.mqtt.topic_root = topic_root
    received: list[bytes] = []

    async def on_message(topic: str, payload: bytes, qos: int, props: dict[str, Any]) -> int:
        received.append(payload)
        return 0

    async with connect(
        mqtt_url, f"load-probe-{uuid.uuid4().hex[:8]}", on_message=on_message
    ) as client:
        await client.subscribe((f"{topic_root}/elevators/+/status", 1))
        with caplog.at_level(logging.INFO, logger="simulators.load"):
            report = await run_load(
                settings, elevators=200, rate=800, processes=2, duration=4, report_every_s=1
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while len(received) < report.sent and loop.time() < deadline:
            await asyncio.sleep(0.05)
    assert report.sent > 0 and len(received) == report.sent
    assert report.achieved_rate > 0.5 * report.target_rate
    assert report.fell_behind == (report.achieved_rate < 0.95 * report.target_rate)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("load:")]
    assert len(lines) >= 2 and "against a target of 800/s" in lines[-1]
    STATUS_SAMPLE.validate_json(received[0])


async def test_load_says_so_when_it_cannot_keep_up(
    mqtt_url: str, topic_root: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(mqtt_url=mqtt_url)
    settings.mqtt.topic_root = topic_root
    with caplog.at_level(logging.INFO, logger="simulators.load"):
        # Far beyond what one process on this machine can publish.
        report = await run_load(
            settings, elevators=50, rate=5_000_000, processes=1, duration=2, report_every_s=1
        )
    assert report.fell_behind
    assert any(
        "FELL BEHIND" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records
    )
