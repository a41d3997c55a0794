"""Validation and dead letters through a real broker: every contract example,
and random bytes that must never crash or stall the stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from semon.embedded_broker import embedded_broker
from semon.settings import Settings
from tests.ingest.support import count, publish, running_ingest, status_messages, wait_until
from tests.semon.test_contract_examples import example_payload
from tests.support.services import free_port


def _examples(contract_dir: Path, kind: str) -> list[tuple[str, dict]]:
    return [
        (p.name, json.loads(p.read_text()))
        for p in sorted((contract_dir / "examples" / kind).glob("*.json"))
    ]


def _retopic(topic: str, root: str) -> str:
    assert topic.startswith("se/v1/")
    return root + topic[len("se/v1") :]


@pytest.fixture
def fresh_settings(settings: Settings, fresh_database_url: str) -> Settings:
    settings.database_url = fresh_database_url
    settings.ingest.maintenance_interval_s = 0
    return settings


async def test_every_contract_example_through_the_broker(
    fresh_settings: Settings, contract_dir: Path
) -> None:
    s = fresh_settings
    valid = _examples(contract_dir, "valid")
    invalid = _examples(contract_dir, "invalid")
    messages = [
        (_retopic(ex["topic"], s.mqtt.topic_root), example_payload(ex)) for _, ex in invalid + valid
    ]
    # A good message after the bad ones: the stream flows on.
    messages += status_messages(s.mqtt.topic_root, 1)
    async with running_ingest(s):
        await publish(s.mqtt_url, messages)
        await wait_until(lambda: _done(s.database_url, len(invalid)), 20, "all examples stored")
    async with await psycopg.AsyncConnection.connect(s.database_url) as conn:
        dead = await (
            await conn.execute(
                "SELECT topic, payload, reason, detail FROM dead_letters ORDER BY id"
            )
        ).fetchall()
        tables = {}
        for t in ("elevator_status", "elevator_events", "fillings", "scale_samples"):
            row = await (await conn.execute(f"SELECT count(*) FROM {t}")).fetchone()
            assert row is not None
            tables[t] = row[0]
        gov = await (await conn.execute("SELECT gov_code FROM elevator_events")).fetchall()
    by_payload = {bytes(p): (topic, reason, detail) for topic, p, reason, detail in dead}
    for name, ex in invalid:
        payload = example_payload(ex)
        assert payload in by_payload, f"{name} not dead-lettered"
        topic, reason, detail = by_payload[payload]
        assert topic == _retopic(ex["topic"], s.mqtt.topic_root)
        assert reason and detail, name
    assert len(dead) == len(invalid)
    single = sum(
        1
        for _, ex in valid
        if ex["topic"].endswith("/status") and "samples" not in ex.get("payload", {})
    )
    batched = sum(
        len(ex["payload"]["samples"])
        for _, ex in valid
        if ex["topic"].endswith("/status") and "samples" in ex.get("payload", {})
    )
    assert tables["elevator_status"] == single + batched + 1
    assert tables["elevator_events"] == sum(1 for _, ex in valid if ex["topic"].endswith("/event"))
    assert tables["fillings"] == sum(1 for _, ex in valid if ex["topic"].endswith("/filling"))
    assert tables["scale_samples"] == sum(1 for _, ex in valid if ex["topic"].endswith("/scale"))
    # gov_code filled from the code when the terminal sent none.
    assert all(g[0] is not None for g in gov)
    # Counted by reason on the metrics every scrape sees.
    exposition = generate_latest().decode()
    for reason in ("not_json", "bad_identifier", "future_timestamp", "batch_too_large"):
        assert f'semon_ingest_messages_rejected_total{{reason="{reason}"}}' in exposition
    for name in (
        "semon_ingest_messages_received_total",
        "semon_ingest_rows_stored_total",
        "semon_ingest_duplicates_dropped_total",
        "semon_ingest_batch_rows",
        "semon_ingest_write_seconds",
        "semon_ingest_lag_seconds",
        "semon_ingest_commit_wait_seconds",
        "semon_ingest_pending_messages",
    ):
        assert name in exposition


async def _done(dsn: str, n_dead: int) -> bool:
    return (
        await count(dsn, "SELECT count(*) FROM dead_letters") >= n_dead
        and await count(dsn) > 0
        and await count(dsn, "SELECT count(*) FROM elevator_status WHERE elevator_id = 'EL-00000'")
        == 1
    )


# Edge values a device could plausibly (or maliciously) send.
edge_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=40),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [
            "1-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-11-21T08:00:00Z",
            "\x00",
            "NaN",
            "-Infinity",
            "1e309",
            "GZ-TH-000123",
            "\ud7ff\U0010ffff",
        ]
    ),
)
status_like = st.fixed_dictionaries(
    {},
    optional={
        k: edge_values
        for k in (
            "ts",
            "floor",
            "speed",
            "direction",
            "door",
            "door_zone",
            "load_kg",
            "trips",
            "mode",
        )
    },
)
event_like = st.fixed_dictionaries(
    {
        "ts": st.sampled_from(["2026-11-21T08:00:00Z", "1970-01-01T00:00:00Z"]),
        "code": st.sampled_from(["trapped", "power_loss", "x" * 41, "Bad"]),
    },
    optional={
        "detail": st.text(max_size=50),
        "gov_code": edge_values,
        "data": st.dictionaries(st.text(max_size=5), edge_values, max_size=3),
    },
)


def _dump(obj: object) -> bytes:
    # Python's json writes NaN/Infinity/huge ints that orjson would refuse to.
    return json.dumps(obj).encode("utf-8", errors="surrogatepass")


payloads = st.one_of(
    st.binary(max_size=300),
    status_like.map(_dump),
    event_like.map(_dump),
    st.lists(status_like, max_size=3).map(lambda xs: _dump({"samples": xs})),
)
suffixes = st.sampled_from(
    [
        "elevators/E-1/status",
        "elevators/E-2/event",
        "stations/S-1/filling",
        "stations/S-1/scale",
        "elevators/bad id!/status",
        "elevators/E-1",
    ]
)


@pytest.mark.slow
def test_random_input_never_crashes_or_stalls(settings: Settings, fresh_database_url: str) -> None:
    settings.database_url = fresh_database_url
    settings.ingest.maintenance_interval_s = 0
    cases: list[list[tuple[str, bytes]]] = []

    @hsettings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.lists(st.tuples(suffixes, payloads), min_size=1, max_size=25))
    def collect(msgs: list[tuple[str, bytes]]) -> None:
        cases.append([(f"{settings.mqtt.topic_root}/{suffix}", p) for suffix, p in msgs])

    collect()
    flat = [m for case in cases for m in case]
    # Each round ends with a known-good sample: if it is stored, nothing stalled.
    sentinels = status_messages(settings.mqtt.topic_root, len(cases), elevators=1)

    async def main() -> None:
        async with running_ingest(settings) as task:
            for i, case in enumerate(cases):
                await publish(settings.mqtt_url, [*case, sentinels[i]])
            await wait_until(
                lambda: _sentinels(settings.database_url, len(cases)),
                60,
                "every sentinel stored after random input",
            )
            assert not task.done()
        handled = await count(settings.database_url, "SELECT count(*) FROM dead_letters")
        assert handled <= len(flat)

    asyncio.run(main())
    assert orjson.dumps(len(flat))


async def _sentinels(dsn: str, n: int) -> bool:
    return (
        await count(dsn, "SELECT count(*) FROM elevator_status WHERE elevator_id = 'EL-00000'") >= n
    )


async def test_an_id_with_a_control_character_in_the_topic_is_dead_lettered(
    fresh_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """`E1\\n` is not the identifier `E1`: Python's `$` matches before a
    trailing newline, so the topic's id must be matched whole.

    Through the embedded broker (amqtt, what `semon up` runs): it passes such
    topics on, whereas Mosquitto drops the publisher's connection itself."""
    s = fresh_settings
    root = s.mqtt.topic_root
    sample = orjson.dumps(
        {
            "ts": "2026-11-21T08:00:00Z",
            "floor": 1,
            "speed": 0.0,
            "direction": "stopped",
            "door": "closed",
            "door_zone": True,
        }
    )
    bad_ids = ["E1\n", "E1\r", "E1\x85", "\nE1"]
    async with embedded_broker("127.0.0.1", free_port()) as url:
        s.mqtt_url = url
        async with running_ingest(s):
            # The good message last: once it is stored, so is every dead
            # letter before it (one publisher, in order, one batch after another).
            await publish(
                url,
                [(f"{root}/elevators/{eid}/status", sample) for eid in bad_ids]
                + [(f"{root}/elevators/E1/status", sample)],
            )
            await wait_until(lambda: _stored(s.database_url), 20, "E1 stored")
    async with await psycopg.AsyncConnection.connect(s.database_url) as conn:
        dead = await (
            await conn.execute("SELECT topic, reason, detail FROM dead_letters ORDER BY id")
        ).fetchall()
        stored = await (await conn.execute("SELECT elevator_id FROM elevator_status")).fetchall()
    assert stored == [("E1",)]
    assert sorted(t for t, _, _ in dead) == sorted(
        f"{root}/elevators/{eid}/status" for eid in bad_ids
    )
    assert {reason for _, reason, _ in dead} == {"bad_identifier"}
    assert all("out of form" in detail for _, _, detail in dead)
    # Nor does the topic forge a log line.
    logged = [r.getMessage() for r in caplog.records if "dead-lettered" in r.getMessage()]
    assert logged and all("\n" not in m and "\r" not in m for m in logged)


async def _stored(dsn: str) -> bool:
    return await count(dsn, "SELECT count(*) FROM elevator_status WHERE elevator_id = 'E1'") >= 1
