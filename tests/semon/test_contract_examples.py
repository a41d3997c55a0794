"""Every example of the contract: valid ones parse, invalid ones are rejected
with a reason that names the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from semon.domain.decode import Decoded, Rejection, decode

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def example_payload(example: dict) -> bytes:
    """The bytes a test publishes for one example file."""
    if "raw" in example:
        return str(example["raw"]).encode()
    if "generate" in example:
        n = int(example["generate"]["samples"])
        sample = {
            "ts": "2026-11-21T08:00:00Z",
            "floor": 1,
            "speed": 0.0,
            "direction": "stopped",
            "door": "closed",
            "door_zone": True,
        }
        return orjson.dumps({"samples": [dict(sample, ts=1763683200000 + i) for i in range(n)]})
    return orjson.dumps(example["payload"])


def _examples(contract_dir: Path, kind: str) -> list[tuple[str, dict]]:
    return [
        (p.name, json.loads(p.read_text()))
        for p in sorted((contract_dir / "examples" / kind).glob("*.json"))
    ]


def test_every_valid_example_parses(contract_dir: Path) -> None:
    examples = _examples(contract_dir, "valid")
    assert len(examples) >= 6
    for name, ex in examples:
        out = decode(ex["topic"], example_payload(ex), root="se/v1", now=NOW)
        assert isinstance(out, Decoded), f"{name}: {out}"


# Which field (or word) each invalid example's reason must name.
EXPECTED_IN_REASON = {
    "negative_speed.json": "speed",
    "bad_id_topic.json": "identifier",
    "batch_too_large.json": "samples",
    "future_ts.json": "future",
    "not_json.json": "JSON",
    "filling_negative_mass.json": "net_kg",
    "bad_enum.json": "direction",
    "filling_time_order.json": "ended_at",
    "missing_ts.json": "ts",
}


def test_every_invalid_example_is_rejected_with_a_reason(contract_dir: Path) -> None:
    examples = _examples(contract_dir, "invalid")
    assert {n for n, _ in examples} <= set(EXPECTED_IN_REASON) | {n for n, _ in examples}
    for name, ex in examples:
        out = decode(ex["topic"], example_payload(ex), root="se/v1", now=NOW)
        assert isinstance(out, Rejection), f"{name} was accepted"
        word = EXPECTED_IN_REASON.get(name)
        if word is not None:
            assert word in out.detail, f"{name}: reason {out.detail!r} does not name {word!r}"


_TAIL = b'"direction": "up", "door": "closed", "door_zone": true}'


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b'{"ts": "2026-11-21T08:00:00", "floor": 1, "speed": 0, ' + _TAIL, "invalid"),
        (b'{"ts": "2026-11-21T08:00:00Z", "floor": "7", "speed": 0, ' + _TAIL, "invalid"),
        (b'{"ts": "2026-11-21T08:00:00Z", "floor": 1, "speed": NaN, ' + _TAIL, "not_json"),
        (b'{"ts": true, "floor": 1, "speed": 0, ' + _TAIL, "invalid"),
        (b"[1, 2]", "not_object"),
        (b"\xff\xfe", "not_utf8"),
    ],
)
def test_edge_rejections(payload: bytes, reason: str) -> None:
    out = decode("se/v1/elevators/E1/status", payload, root="se/v1", now=NOW)
    assert isinstance(out, Rejection)
    assert out.reason == reason, out.detail


def test_unknown_fields_ignored_and_epoch_ms_is_utc() -> None:
    out = decode(
        "se/v1/elevators/E1/status",
        b'{"ts": 1763683200000, "floor": -2, "speed": 0, "direction": "stopped", '
        b'"door": "open", "door_zone": true, "vendor": {"x": 1}}',
        root="se/v1",
        now=NOW,
    )
    assert isinstance(out, Decoded)
    assert out.status[0]["ts"] == datetime(2025, 11, 21, 0, 0, tzinfo=UTC)
    assert out.status[0]["floor"] == -2
