"""Filling rules, decided against the registry as it stands at the fill.

A refused filling raises nothing: the station did what it had to. Each rule
is one alert per filling (condition key ``<kind>:<filling_id>``).
"""

from __future__ import annotations

from typing import Any

from alerts.keys import filling_key
from semon.domain.alerts import AlertDraft
from semon.domain.filling_rules import Breach, after_fill, registry_evidence
from semon.domain.wire import Filling, ScaleSample
from semon.i18n import Message, msg

# The record's own checks: their alerts carry no registry evidence.
_CHECK_KINDS = frozenset({"precheck_failed_but_filled", "postcheck_missing"})


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


def _summary(kind: str, station_id: str, f: Filling, b: Breach) -> Message:
    """The alert's summary as a catalog message (semon/locale, alerts.po): each
    names the station and the cylinder, some a fact of the breach besides."""
    where = {"station_id": station_id, "cylinder_id": f.cylinder_id}
    facts = b.evidence
    match kind:
        case "filling_unregistered_cylinder":
            return msg("alert.filling_unregistered_cylinder.summary", **where)
        case "filling_scrapped_cylinder":
            return msg("alert.filling_scrapped_cylinder.summary", **where)
        case "filling_overdue_cylinder":
            return msg("alert.filling_overdue_cylinder.summary", **where, due_on=facts["due"])
        case "filling_foreign_cylinder":
            owner = facts["owner"]
            return msg("alert.filling_foreign_cylinder.summary", **where, owner_station_id=owner)
        case "gas_mismatch":
            registered = facts["registered_gas"]
            return msg("alert.gas_mismatch.summary", **where, gas=f.gas, registered_gas=registered)
        case "overfill":
            limit = facts["max_fill_kg"]
            return msg("alert.overfill.summary.record", **where, net_kg=f.net_kg, max_fill_kg=limit)
        case "precheck_failed_but_filled":
            return msg("alert.precheck_failed_but_filled.summary", **where)
    return msg("alert.postcheck_missing.summary", **where)


def filling_drafts(
    station_id: str,
    f: Filling,
    cylinder: dict[str, Any] | None,
    station: dict[str, Any] | None,
    *,
    overfill_raised: bool,
) -> list[AlertDraft]:
    """One draft per condition the record broke (semon.domain.filling_rules,
    the same rules the fill permit answers from)."""
    if f.result != "filled":
        return []
    breaches = after_fill(
        station_id,
        f.gas,
        cylinder,
        f.started_at.date(),
        net_kg=f.net_kg,
        precheck_passed=f.precheck.passed,
        postcheck_done=f.postcheck is not None,
        overfill_raised=overfill_raised,
    )
    out: list[AlertDraft] = []
    for b in breaches:
        details: dict[str, Any] = {}
        if cylinder is not None and b.kind not in _CHECK_KINDS:
            details["registry"] = registry_evidence(cylinder)
        if b.kind == "overfill":
            details.update(net_kg=f.net_kg, source="filling record")
        elif b.kind == "precheck_failed_but_filled":
            details["failed_items"] = f.precheck.failed_items
        out.append(
            _draft(b.kind, station_id, f, _summary(b.kind, station_id, f, b), station, **details)
        )
    return out


def filled_after_deny_draft(
    station_id: str, f: Filling, denied: dict[str, Any], station: dict[str, Any] | None
) -> AlertDraft:
    """The station filled a cylinder its last fill permit denied."""
    return _draft(
        "filled_after_deny",
        station_id,
        f,
        msg(
            "alert.filled_after_deny.summary",
            station_id=station_id,
            cylinder_id=f.cylinder_id,
            reasons=", ".join(denied["reasons"]),
        ),
        station,
        permit={
            "permit_id": denied["permit_id"],
            "asked_at": denied["asked_at"].isoformat(),
            "reasons": list(denied["reasons"]),
        },
    )


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
