"""What each elevator alert says: the drafts of trapped-passenger, fault,
offline-terminal and missed-alarm-test alerts, made from a car's state.
Summaries are catalog messages (alerts.po), one `msg(...)` per kind."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.elevator_state import Elevator
from alerts.keys import alarm_test_key, fault_key, offline_key, trapped_key
from semon.domain.alerts import AlertDraft
from semon.domain.gov_codes import gov_code_for
from semon.domain.wire import STATUS_SAMPLE, ElevatorEvent, StatusSample
from semon.i18n import Message, msg

# Why a car counts as trapping someone: the words kept in the alert's
# details (`reason`), one summary text each.
OFF_LANDING = "stopped outside the door zone with people inside"
ON_BATTERY = "on battery power, stopped outside the door zone"
AT_LANDING = "stopped at a landing with doors shut and people inside"
REPORTED = "the terminal reports a trapped passenger"


def trapped_summary(eid: str, reason: str, floor: int | None) -> Message:
    if floor is None:
        return msg("alert.trapped_passenger.summary.unplaced", elevator_id=eid)
    if reason == OFF_LANDING:
        return msg("alert.trapped_passenger.summary.off_landing", elevator_id=eid, floor=floor)
    if reason == ON_BATTERY:
        return msg("alert.trapped_passenger.summary.on_battery", elevator_id=eid, floor=floor)
    if reason == AT_LANDING:
        return msg("alert.trapped_passenger.summary.at_landing", elevator_id=eid, floor=floor)
    return msg("alert.trapped_passenger.summary.reported", elevator_id=eid, floor=floor)


def _iso(t: datetime) -> str:
    return t.isoformat()


def _elevator_draft(
    kind: str,
    key: str,
    eid: str,
    started_at: datetime,
    summary: Message,
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
    return _elevator_draft(
        "trapped_passenger",
        trapped_key(car.eid),
        car.eid,
        started,
        trapped_summary(car.eid, details["reason"], last["floor"] if last is not None else None),
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
        msg("alert.elevator_fault.summary.detail", elevator_id=eid, code=ev.code, detail=ev.detail)
        if ev.detail
        else msg("alert.elevator_fault.summary", elevator_id=eid, code=ev.code),
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
        msg("alert.terminal_offline.summary", elevator_id=eid, since=last_ts),
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
        msg("alert.alarm_test_missed.summary", elevator_id=eid, since=last_test),
        {"last_alarm_test_at": _iso(last_test), "max_gap_s": max_gap_s},
    )
