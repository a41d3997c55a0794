"""Deliveries through a real broker: stored once by delivery_id with an item
per cylinder; a delivery listing a cylinder twice, or otherwise wrong, is a
dead letter with its reason and the stream flows on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest

from semon.domain.decode import Decoded, Rejection, decode
from semon.settings import Settings
from tests.ingest.support import count, publish, running_ingest, wait_until


def _delivery(did: str, ts: datetime, cylinders: list[str], **kw: object) -> bytes:
    return orjson.dumps(
        {"delivery_id": did, "ts": ts.isoformat(), "direction": "out", "cylinder_ids": cylinders}
        | kw
    )


@pytest.mark.parametrize(
    ("change", "reason_part"),
    [
        ({"cylinder_ids": ["c1", "c2", "c1"]}, "'c1' is listed twice"),
        ({"cylinder_ids": []}, "cylinder_ids"),
        ({"direction": "sideways"}, "direction"),
        ({"cylinder_ids": ["bad id"]}, "cylinder_ids.0"),
    ],
)
def test_decode_refuses_with_the_reason(change: dict[str, object], reason_part: str) -> None:
    now = datetime.now(UTC)
    body = {"delivery_id": "d1", "ts": now.isoformat(), "direction": "out", "cylinder_ids": ["c1"]}
    got = decode("se/v1/stations/ST-1/delivery", orjson.dumps(body | change), root="se/v1", now=now)
    assert isinstance(got, Rejection) and got.reason == "invalid", got
    assert reason_part in got.detail, got.detail
    ok = decode("se/v1/stations/ST-1/delivery", orjson.dumps(body), root="se/v1", now=now)
    assert isinstance(ok, Decoded) and ok.delivery is not None and ok.equipment_id == "ST-1"


async def test_deliveries_stored_once_and_bad_ones_dead_lettered(
    settings: Settings, fresh_database_url: str
) -> None:
    settings.database_url = fresh_database_url
    root = settings.mqtt.topic_root
    topic = f"{root}/stations/ST-1/delivery"
    t0 = datetime.now(UTC) - timedelta(hours=1)
    good = _delivery("d-1", t0, ["CY-1", "CY-2"], customer="Noodle shop", district="north")
    back = _delivery("d-2", t0 + timedelta(hours=1), ["CY-1"], direction="return")
    twice = _delivery("d-3", t0, ["CY-3", "CY-3"])
    messages = [(topic, good), (topic, twice), (topic, good), (topic, back), (topic, good)]
    async with running_ingest(settings):
        await publish(settings.mqtt_url, messages)
        await wait_until(
            lambda: _is(fresh_database_url, "SELECT count(*) FROM deliveries", 2), 20, "deliveries"
        )
        await wait_until(
            lambda: _is(fresh_database_url, "SELECT count(*) FROM dead_letters", 1), 20, "dead"
        )
    async with await psycopg.AsyncConnection.connect(fresh_database_url) as conn:
        rows = await (
            await conn.execute(
                "SELECT delivery_id, station_id, direction, cylinder_ids, customer, district"
                " FROM deliveries ORDER BY delivery_id"
            )
        ).fetchall()
        items = await (
            await conn.execute(
                "SELECT cylinder_id, delivery_id FROM delivery_items ORDER BY cylinder_id, ts"
            )
        ).fetchall()
        dead = await (
            await conn.execute("SELECT topic, reason, detail FROM dead_letters")
        ).fetchall()
    assert rows == [
        ("d-1", "ST-1", "out", ["CY-1", "CY-2"], "Noodle shop", "north"),
        ("d-2", "ST-1", "return", ["CY-1"], None, None),
    ]
    assert items == [("CY-1", "d-1"), ("CY-1", "d-2"), ("CY-2", "d-1")]
    [(dead_topic, reason, detail)] = dead
    assert dead_topic == topic and reason == "invalid" and "'CY-3' is listed twice" in detail
    assert await count(fresh_database_url, "SELECT count(*) FROM delivery_items") == 3


async def _is(dsn: str, sql: str, n: int) -> bool:
    return await count(dsn, sql) == n
