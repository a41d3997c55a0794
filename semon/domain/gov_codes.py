"""The national fault numbering city platforms share, mapped to our string codes.

Codes are kept as strings inside; numbers live only at the edge (DOMAIN.md).
"""

from __future__ import annotations

GOV_CODES: dict[str, int] = {
    "overrun_top": 1,
    "overrun_bottom": 2,
    "overspeed": 3,
    "door_open_while_moving": 4,
    "moving_with_door_open": 5,
    "stopped_outside_door_zone": 6,
    "trapped": 7,  # the terminal does not say at or between landings; 7 is the common one
    "power_loss": 9,
    "safety_circuit_open": 10,
    "door_fails_to_open": 11,
    "door_fails_to_close": 12,
    "door_lock_fault": 13,
    "stuck_button": 14,
    "runtime_limiter": 17,
    "floor_info_lost": 19,
    "alarm_button": 21,
    "ebike_in_car": 37,
    "abnormal_vibration": 38,
}

KNOWN_EVENT_CODES: frozenset[str] = frozenset(
    [*GOV_CODES, "power_restored", "terminal_tamper", "alarm_test"]
)


def gov_code_for(code: str, given: int | None) -> int | None:
    """The terminal's own number wins; otherwise fill it in from the code."""
    return given if given is not None else GOV_CODES.get(code)
