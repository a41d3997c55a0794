"""Where a cylinder is, from its last filling and its last delivery: at a
station (filled there, or returned to it) or with a customer (delivered out
and not back since)."""

from __future__ import annotations

from typing import Any, Literal

# What `state` holds (api.schemas.Whereabouts shows it).
Place = Literal["at_station", "with_customer", "unknown"]


def whereabouts(
    last_filling: dict[str, Any] | None, last_delivery: dict[str, Any] | None
) -> dict[str, Any]:
    """``last_filling``: {station_id, ended_at}; ``last_delivery``:
    {delivery_id, station_id, ts, direction, customer, address, district}.
    A delivery at the same instant as a filling came after it (filled, then
    loaded)."""
    if last_delivery is not None and (
        last_filling is None or last_delivery["ts"] >= last_filling["ended_at"]
    ):
        d = last_delivery
        if d["direction"] == "out":
            return dict(
                state="with_customer",
                since=d["ts"],
                station_id=d["station_id"],
                customer=d.get("customer"),
                address=d.get("address"),
                district=d.get("district"),
                delivery_id=d["delivery_id"],
            )
        return dict(
            state="at_station",
            since=d["ts"],
            station_id=d["station_id"],
            delivery_id=d["delivery_id"],
        )
    if last_filling is not None:
        return dict(
            state="at_station",
            since=last_filling["ended_at"],
            station_id=last_filling["station_id"],
        )
    return {"state": "unknown"}
