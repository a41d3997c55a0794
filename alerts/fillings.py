"""Filling rules, decided against the registry as it stands at the fill.

A refused filling raises nothing: the station did what it had to. Each rule
is one alert per filling (condition key ``<kind>:<filling_id>``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from alerts.keys import filling_key
from semon.domain.alerts import AlertDraft
from semon.domain.wire import Filling, ScaleSample
from semon.i18n import Message, msg


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _draft(
    kind: str,
    station_id: str,
    f: Filling,
    summary: Message,
    station: dict[str, Any] | None,
    **details: Any,
) -> AlertDraft:
    return AlertDraft(
        condition_key=filling_key(kind, f.filling_id),
        kind=kind,
        equipment_type="cylinder",
        equipment_id=f.cylinder_id,
        started_at=f.started_at,
        summary=summary,
        details={
            "filling": f.model_dump(mode="json"),
            "station_id": station_id,
            "station_name": (station or {}).get("name"),
            **details,
        },
        station_id=station_id,
        district=(station or {}).get("district"),
    )


def filling_drafts(
    station_id: str,
    f: Filling,
    cylinder: dict[str, Any] | None,
    station: dict[str, Any] | None,
    *,
    overfill_raised: bool,
) -> list[AlertDraft]:
    if f.result != "filled":
        return []
    out: list[AlertDraft] = []
    cid = f.cylinder_id
    day = f.started_at.date()
    if cylinder is None:
        out.append(
            _draft(
                "filling_unregistered_cylinder",
                station_id,
                f,
                msg(
                    "alert.filling_unregistered_cylinder.summary",
                    station_id=station_id,
                    cylinder_id=cid,
                ),
                station,
            )
        )
    else:
        base = cylinder["inspection_base_on"]
        due = _add_years(base, int(cylinder["inspection_interval_years"]))
        end_of_life = _add_years(cylinder["manufactured_on"], int(cylinder["design_life_years"]))
        reg = {
            "registered_gas": cylinder["gas"],
            "owner_station_id": cylinder["owner_station_id"],
            "inspection_due_on": due.isoformat(),
            "end_of_life_on": end_of_life.isoformat(),
            "status": cylinder["status"],
            "max_fill_kg": cylinder["max_fill_kg"],
        }
        if cylinder["status"] == "scrapped" or end_of_life <= day:
            out.append(
                _draft(
                    "filling_scrapped_cylinder",
                    station_id,
                    f,
                    msg(
                        "alert.filling_scrapped_cylinder.summary",
                        station_id=station_id,
                        cylinder_id=cid,
                    ),
                    station,
                    registry=reg,
                )
            )
        if due < day:
            out.append(
                _draft(
                    "filling_overdue_cylinder",
                    station_id,
                    f,
                    msg(
                        "alert.filling_overdue_cylinder.summary",
                        station_id=station_id,
                        cylinder_id=cid,
                        due_on=due,
                    ),
                    station,
                    registry=reg,
                )
            )
        owner = cylinder["owner_station_id"]
        if owner and owner != station_id:
            out.append(
                _draft(
                    "filling_foreign_cylinder",
                    station_id,
                    f,
                    msg(
                        "alert.filling_foreign_cylinder.summary",
                        station_id=station_id,
                        cylinder_id=cid,
                        owner_station_id=owner,
                    ),
                    station,
                    registry=reg,
                )
            )
        if cylinder["gas"] != f.gas:
            out.append(
                _draft(
                    "gas_mismatch",
                    station_id,
                    f,
                    msg(
                        "alert.gas_mismatch.summary",
                        station_id=station_id,
                        cylinder_id=cid,
                        gas=f.gas,
                        registered_gas=cylinder["gas"],
                    ),
                    station,
                    registry=reg,
                )
            )
        if not overfill_raised and f.net_kg > float(cylinder["max_fill_kg"]):
            out.append(
                _draft(
                    "overfill",
                    station_id,
                    f,
                    msg(
                        "alert.overfill.summary.record",
                        station_id=station_id,
                        cylinder_id=cid,
                        net_kg=f.net_kg,
                        max_fill_kg=float(cylinder["max_fill_kg"]),
                    ),
                    station,
                    registry=reg,
                    net_kg=f.net_kg,
                    source="filling record",
                )
            )
    if not f.precheck.passed:
        out.append(
            _draft(
                "precheck_failed_but_filled",
                station_id,
                f,
                msg(
                    "alert.precheck_failed_but_filled.summary",
                    station_id=station_id,
                    cylinder_id=cid,
                ),
                station,
                failed_items=f.precheck.failed_items,
            )
        )
    if f.postcheck is None:
        out.append(
            _draft(
                "postcheck_missing",
                station_id,
                f,
                msg("alert.postcheck_missing.summary", station_id=station_id, cylinder_id=cid),
                station,
            )
        )
    return out


def overfill_draft(
    station_id: str, s: ScaleSample, max_fill_kg: float, station: dict[str, Any] | None
) -> AlertDraft:
    return AlertDraft(
        condition_key=filling_key("overfill", s.filling_id),
        kind="overfill",
        equipment_type="cylinder",
        equipment_id=s.cylinder_id,
        started_at=s.ts,
        summary=msg(
            "alert.overfill.summary.live",
            station_id=station_id,
            cylinder_id=s.cylinder_id,
            net_kg=s.net_kg,
            max_fill_kg=max_fill_kg,
        ),
        details={
            "filling_id": s.filling_id,
            "net_kg": s.net_kg,
            "max_fill_kg": max_fill_kg,
            "station_id": station_id,
            "station_name": (station or {}).get("name"),
            "source": "live scale",
            "sample": s.model_dump(mode="json"),
        },
        station_id=station_id,
        district=(station or {}).get("district"),
    )
