"""The filling rules as pure functions: which conditions a filling of a
cylinder at a station breaks, judged against the registry record.

One implementation for both sides of the valve: the alerts service raises
an alert per condition a filling record broke (alerts/fillings.py), and the
fill permit (GET /cylinders/{id}/fill-permit) denies with the same
conditions before the fill. ``before_fill`` holds the conditions a permit can
know (the registry's); ``after_fill`` adds those of the record itself
(overfill, checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal, get_args

# The media a station may ask a permit for (CONTRACT.md, the filling
# record's `gas`); a name outside this list is refused with a 4xx.
GasName = Literal[
    "lpg",
    "oxygen",
    "nitrogen",
    "argon",
    "co2",
    "acetylene",
    "cng",
    "hydrogen",
    "helium",
    "air",
    "nitrous_oxide",
    "ammonia",
    "chlorine",
]
GASES: Final[tuple[str, ...]] = get_args(GasName)

# The conditions a permit is judged on, in the order reasons are listed.
BeforeFillKind = Literal[
    "filling_unregistered_cylinder",
    "filling_scrapped_cylinder",
    "filling_overdue_cylinder",
    "filling_foreign_cylinder",
    "gas_mismatch",
]
BEFORE_FILL_KINDS: Final[tuple[BeforeFillKind, ...]] = (
    "filling_unregistered_cylinder",
    "filling_scrapped_cylinder",
    "filling_overdue_cylinder",
    "filling_foreign_cylinder",
    "gas_mismatch",
)


@dataclass(frozen=True, slots=True)
class Breach:
    """One condition broken, with the evidence for the alert or the permit."""

    kind: str
    evidence: dict[str, Any] = field(default_factory=dict)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def inspection_due_on(cylinder: dict[str, Any]) -> date:
    """From the base date of migration 0040 (`inspection_base_on`, computed by
    `semon_inspection_base` where the row is read: a failed inspection never
    renews it)."""
    return add_years(cylinder["inspection_base_on"], int(cylinder["inspection_interval_years"]))


def end_of_life_on(cylinder: dict[str, Any]) -> date:
    return add_years(cylinder["manufactured_on"], int(cylinder["design_life_years"]))


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def registry_evidence(cylinder: dict[str, Any]) -> dict[str, Any]:
    """What the registry said, as alerts and permits show it."""
    return {
        "registered_gas": cylinder["gas"],
        "owner_station_id": cylinder["owner_station_id"],
        "inspection_due_on": inspection_due_on(cylinder).isoformat(),
        "end_of_life_on": end_of_life_on(cylinder).isoformat(),
        "status": cylinder["status"],
        "max_fill_kg": cylinder["max_fill_kg"],
        # What a scan shows besides (v1.1 Coverage; absent from older reads).
        "tag": cylinder.get("tag"),
        "insured_until": _iso(cylinder.get("insured_until")),
    }


def before_fill(
    station_id: str, gas: str, cylinder: dict[str, Any] | None, day: date
) -> list[Breach]:
    """The conditions a filling of ``gas`` into ``cylinder`` (its registry row
    with `inspection_base_on`, None if unregistered) at ``station_id`` on
    ``day`` breaks: a permit's
    reasons, and the registry half of a filling record's alerts."""
    if cylinder is None:
        return [Breach("filling_unregistered_cylinder")]
    out: list[Breach] = []
    due = inspection_due_on(cylinder)
    if cylinder["status"] == "scrapped" or end_of_life_on(cylinder) <= day:
        out.append(Breach("filling_scrapped_cylinder"))
    if due < day:
        out.append(Breach("filling_overdue_cylinder", {"due": due}))
    owner = cylinder["owner_station_id"]
    if owner and owner != station_id:
        out.append(Breach("filling_foreign_cylinder", {"owner": owner}))
    if cylinder["gas"] != gas:
        out.append(Breach("gas_mismatch", {"registered_gas": cylinder["gas"]}))
    return out


def after_fill(
    station_id: str,
    gas: str,
    cylinder: dict[str, Any] | None,
    day: date,
    *,
    net_kg: float,
    precheck_passed: bool,
    postcheck_done: bool,
    overfill_raised: bool,
) -> list[Breach]:
    """Every condition a filling record (result `filled`) breaks: the permit's,
    then overfill (unless the live scale raised it already) and the checks."""
    out = before_fill(station_id, gas, cylinder, day)
    if cylinder is not None and not overfill_raised and net_kg > float(cylinder["max_fill_kg"]):
        out.append(Breach("overfill", {"max_fill_kg": float(cylinder["max_fill_kg"])}))
    if not precheck_passed:
        out.append(Breach("precheck_failed_but_filled"))
    if not postcheck_done:
        out.append(Breach("postcheck_missing"))
    return out
