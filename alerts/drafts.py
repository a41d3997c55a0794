"""What each elevator alert says: the drafts of trapped-passenger, fault,
offline-terminal and missed-alarm-test alerts, made from a car's state."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.elevator_state import Elevator
from alerts.keys import alarm_test_key, fault_key, offline_key, trapped_key
from semon.domain.alerts import AlertDraft
from semon.domain.gov_codes import gov_code_for
from semon.domain.wire import STATUS_SAMPLE, ElevatorEvent, StatusSample


def _iso(t: datetime) -> str:
    return t.isoformat()


def _elevator_draft(
    kind: str,
    key: str,
    eid: str,
    started_at: datetime,
    summary: str,
    details: dict[str, Any],
    *,
    live: bool = True,
    ended_at: datetime | None = None,
) -> AlertDraft:
    # Positional: the parameters above are the draft's first fields, in order.
    return AlertDraft(
        key, kind, "elevator", eid, started_at, summary, details, live=live, ended_at=ended_at
    )


def trapped_draft(
    car: Elevator,
    started: datetime,
    last: StatusSample | None,
    *,
    live: bool = True,
    ended: datetime | None = None,
    why: str | None = None,
) -> AlertDraft:
    details: dict[str, Any] = {
        "reason": why or car.episode_reason,
        "threshold_s": car.episode_threshold_s,
    }
    if car.episode_start is not None:
        met = car.episode_start + timedelta(seconds=car.episode_threshold_s)
        if car.threshold_since is not None and car.threshold_since > met:
            met = car.threshold_since
        details["condition_met_at"] = _iso(met)
    if last is not None:
        details["last_sample"] = STATUS_SAMPLE.dump_python(last, mode="json")
    floor = f" near floor {last['floor']}" if last is not None else ""
    return _elevator_draft(
        "trapped_passenger",
        trapped_key(car.eid),
        car.eid,
        started,
        f"Passengers trapped in elevator {car.eid}{floor}: {details['reason']}",
        details,
        live=live,
        ended_at=ended,
    )


def fault_draft(eid: str, ev: ElevatorEvent, *, live: bool = True) -> AlertDraft:
    return _elevator_draft(
        "elevator_fault",
        fault_key(eid, ev.code),
        eid,
        ev.ts,
        f"Elevator {eid} fault: {ev.code.replace('_', ' ')}"
        + (f" ({ev.detail})" if ev.detail else ""),
        {
            "code": ev.code,
            "gov_code": gov_code_for(ev.code, ev.gov_code),
            "detail": ev.detail,
            "data": ev.data,
            "last_event_at": _iso(ev.ts),
        },
        live=live,
    )


def offline_draft(
    eid: str, last_ts: datetime, *, expected_interval_s: float, silent_after: timedelta
) -> AlertDraft:
    return _elevator_draft(
        "terminal_offline",
        offline_key(eid),
        eid,
        last_ts,
        f"Terminal of elevator {eid} silent since "
        f"{last_ts:%Y-%m-%d %H:%M:%S}Z: dispatch cannot see it",
        {
            "last_sample_at": _iso(last_ts),
            "blind_elevators": [eid],
            "expected_interval_s": expected_interval_s,
            "silent_after_s": silent_after.total_seconds(),
        },
    )


def alarm_test_draft(eid: str, last_test: datetime, *, max_gap_s: float) -> AlertDraft:
    return _elevator_draft(
        "alarm_test_missed",
        alarm_test_key(eid),
        eid,
        last_test + timedelta(seconds=max_gap_s),
        f"Alarm line of elevator {eid} not tested since {last_test:%Y-%m-%d %H:%M}Z",
        {"last_alarm_test_at": _iso(last_test), "max_gap_s": max_gap_s},
    )
