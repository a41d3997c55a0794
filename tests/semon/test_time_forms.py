"""Times and days in every input take the contract's forms only: an RFC 3339
date-time with an offset (or epoch milliseconds, on the wire) and a
`YYYY-MM-DD` day. `datetime.fromisoformat` and pydantic's `date` take much
more (ISO week dates, a space for the `T`, a date-time for a day, epoch
seconds), each a different instant or day to a different reader."""

from __future__ import annotations

from datetime import UTC, date, datetime

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from semon.domain.common import Day, RecordTimestamp
from semon.domain.decode import Decoded, Rejection, decode
from semon.domain.registry import Elevator, Inspection

NOW = datetime(2026, 12, 7, tzinfo=UTC)

NOT_RFC3339 = [
    "2026-W49-1T00:00:00+08:00",  # ISO week date
    "2026-12-07 00:00:00+08:00",  # space for the T
    "2026-341T00:00:00+08:00",  # ordinal date
    "20261207T000000+0800",  # basic format
    "2026-12-07T00:00+08:00",  # no seconds
    "2026-12-07T00:00:00+0800",  # offset without a colon
    " 2026-12-07T00:00:00Z",  # surrounding space
    "2026-12-07T00:00:00",  # no offset
]
RFC3339 = {
    "2026-12-07T08:00:00+08:00": datetime(2026, 12, 7, tzinfo=UTC),
    "2026-12-07T00:00:00Z": datetime(2026, 12, 7, tzinfo=UTC),
    "2026-12-07t00:00:00.5z": datetime(2026, 12, 7, 0, 0, 0, 500_000, tzinfo=UTC),
    "2026-12-06T19:00:00-05:00": datetime(2026, 12, 7, tzinfo=UTC),
}


def _status(ts: object) -> bytes:
    return orjson.dumps(
        {
            "ts": ts,
            "floor": 3,
            "speed": 0.0,
            "direction": "stopped",
            "door": "closed",
            "door_zone": True,
            "mode": "normal",
            "alarm": False,
            "power": "mains",
        }
    )


@pytest.mark.parametrize("text", NOT_RFC3339)
def test_a_device_time_not_in_rfc3339_is_rejected_naming_the_field(text: str) -> None:
    out = decode("se/v1/elevators/E1/status", _status(text), root="se/v1", now=NOW)
    assert isinstance(out, Rejection), out
    assert out.detail.startswith("ts: "), out.detail
    assert "RFC 3339" in out.detail
    with pytest.raises(ValidationError):
        TypeAdapter(RecordTimestamp).validate_python(text)


@pytest.mark.parametrize(("text", "instant"), sorted(RFC3339.items()))
def test_rfc3339_device_times_are_taken_at_their_offset(text: str, instant: datetime) -> None:
    out = decode("se/v1/elevators/E1/status", _status(text), root="se/v1", now=NOW)
    assert isinstance(out, Decoded), out
    assert out.status[0]["ts"] == instant
    assert TypeAdapter(RecordTimestamp).validate_python(text) == instant


@pytest.mark.parametrize(
    "value",
    ["2026-12-07T00:00:00", "2026-12-07T00:00:00Z", 1796601600, "1796601600", "2026-W50-1"],
)
def test_a_day_is_yyyy_mm_dd_only(value: object) -> None:
    with pytest.raises(ValidationError, match="YYYY-MM-DD"):
        TypeAdapter(Day).validate_python(value)
    record = {
        "equipment_type": "elevator",
        "equipment_id": "E1",
        "inspected_on": value,
        "result": "pass",
        "inspector": "x",
    }
    with pytest.raises(ValidationError) as err:
        Inspection.model_validate(record)
    assert [e["loc"] for e in err.value.errors()] == [("inspected_on",)]


def test_days_that_are_days() -> None:
    assert TypeAdapter(Day).validate_python("2026-12-07") == date(2026, 12, 7)
    assert TypeAdapter(Day).validate_python(date(2026, 12, 7)) == date(2026, 12, 7)
    with pytest.raises(ValidationError, match="not a valid date"):
        TypeAdapter(Day).validate_python("2026-02-30")
    with pytest.raises(ValidationError):
        TypeAdapter(Day).validate_python(datetime(2026, 12, 7, tzinfo=UTC))
    elevator = Elevator.model_validate(
        {
            "elevator_id": "E1",
            "address": "1 Road",
            "district": "d",
            "use_unit": "u",
            "installed_on": "2012-05-01",
            "last_inspected_on": "2026-03-10",
        }
    )
    assert elevator.installed_on == date(2012, 5, 1)
