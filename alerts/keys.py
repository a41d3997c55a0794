"""Condition keys, one per condition an alert is about (at most one alert of a
key is open), and ``OpenAlerts``: the open alerts by key, with each car's
open faults indexed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

_FAULT_PREFIX = "elevator_fault:"
# Terminal event codes that are not faults of their own.
_NOT_FAULTS = frozenset({"alarm_button", "alarm_test", "power_restored", "trapped"})


def trapped_key(eid: str) -> str:
    return f"trapped_passenger:{eid}"


def fault_key(eid: str, code: str) -> str:
    return f"{_FAULT_PREFIX}{eid}:{code}"


def offline_key(eid: str) -> str:
    return f"terminal_offline:{eid}"


def alarm_test_key(eid: str) -> str:
    return f"alarm_test_missed:{eid}"


def event_key(eid: str, code: str) -> str | None:
    """The condition a terminal event of ``code`` raises, if any: a trapped
    report or a fault (an alarm press or test, power back, raise none)."""
    if code == "trapped":
        return trapped_key(eid)
    return None if code in _NOT_FAULTS else fault_key(eid, code)


def filling_key(kind: str, filling_id: str) -> str:
    """One alert of each kind per filling (a live overfill and the record's are one)."""
    return f"{kind}:{filling_id}"


def filling_of(key: str) -> str:
    """The filling id of a filling alert's key."""
    return key.split(":", 1)[1]


def inspection_key(kind: str, equipment_type: str, eid: str, due: date) -> str:
    """The due date is in the key: a recorded inspection that moves it ends the alert."""
    return f"{kind}:{equipment_type}:{eid}:{due}"


def failed_in_use_key(equipment_type: str, eid: str, failed_on: date) -> str:
    """The failed inspection's date is in the key: a later fail is a new condition."""
    return f"inspection_failed_in_use:{equipment_type}:{eid}:{failed_on}"


def insurance_key(kind: str, equipment_type: str, eid: str, until: date) -> str:
    """The insured-until date is in the key: a renewed policy ends the alert."""
    return f"{kind}:{equipment_type}:{eid}:{until}"


def hazard_key(hazard_id: str) -> str:
    return f"hazard_overdue:{hazard_id}"


def maintenance_key(eid: str, due: date) -> str:
    return f"maintenance_overdue:{eid}:{due}"


class OpenAlerts(dict[str, datetime]):
    """condition_key -> started_at of the alerts known open, with each car's
    open fault codes indexed: every sample asks for them, and scanning every
    open alert in the city per sample grew with the number open."""

    def __init__(self, items: Mapping[str, datetime] | None = None) -> None:
        super().__init__()
        self.faults: dict[str, set[str]] = {}
        for key, value in (items or {}).items():
            self[key] = value

    def __setitem__(self, key: str, value: datetime) -> None:
        super().__setitem__(key, value)
        if key.startswith(_FAULT_PREFIX):
            eid, _, code = key[len(_FAULT_PREFIX) :].rpartition(":")
            self.faults.setdefault(eid, set()).add(code)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._unindex(key)

    def pop(self, key: str, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._unindex(key)
        return value

    def _unindex(self, key: str) -> None:
        if key.startswith(_FAULT_PREFIX):
            eid, _, code = key[len(_FAULT_PREFIX) :].rpartition(":")
            codes = self.faults.get(eid)
            if codes is not None:
                codes.discard(code)
                if not codes:
                    del self.faults[eid]
