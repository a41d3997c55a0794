"""Device-to-platform messages (CONTRACT.md, "Devices to platform")."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator, with_config
from typing_extensions import TypedDict

from semon.domain.common import (
    WIRE_CONFIG,
    Counter,
    FiniteFloat,
    Identifier,
    JsonObject,
    NonNegFloat,
    ShortText,
    Text,
    Timestamp,
    WireModel,
)

# Strict: "7" is a wrong type for a floor, not a floor.
StrictInt = Annotated[int, Field(strict=True)]
StrictBool = Annotated[bool, Field(strict=True)]
Floor = Annotated[int, Field(strict=True, ge=-200, le=1000)]
Speed = Annotated[float, Field(strict=True, ge=0, le=100, allow_inf_nan=False)]
Mass = Annotated[float, Field(strict=True, ge=0, le=1e6, allow_inf_nan=False)]
Measure = Annotated[float, Field(strict=True, ge=-1e6, le=1e6, allow_inf_nan=False)]
StrictCounter = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]

Direction = Literal["up", "down", "stopped"]
DoorState = Literal["open", "closed", "opening", "closing"]
Mode = Literal["normal", "inspection", "maintenance", "fire", "out_of_service"]
Power = Literal["mains", "battery"]

MAX_BATCH = 1000


@with_config(WIRE_CONFIG)
class StatusSample(TypedDict):
    """One status sample as validated (`STATUS_SAMPLE`, `STATUS_BATCH`): every
    key present, defaults filled, in elevator_status's column order.

    A dict rather than a model, unlike the other messages: samples are the
    volume (tens of thousands a second), and a model instance per sample cost
    twice the validation and twice the memory the alerts window holds.
    """

    ts: Timestamp
    floor: Floor
    speed: Speed
    direction: Direction
    door: DoorState
    door_zone: StrictBool
    occupied: Annotated[StrictBool | None, Field(default=None)]
    load_kg: Annotated[Mass | None, Field(default=None)]
    mode: Annotated[Mode, Field(default="normal")]
    alarm: Annotated[StrictBool, Field(default=False)]
    power: Annotated[Power, Field(default="mains")]
    trips: Annotated[StrictCounter | None, Field(default=None)]
    door_cycles: Annotated[StrictCounter | None, Field(default=None)]
    run_s: Annotated[StrictCounter | None, Field(default=None)]


@with_config(WIRE_CONFIG)
class StatusBatch(TypedDict):
    samples: Annotated[list[StatusSample], Field(min_length=1, max_length=MAX_BATCH)]


STATUS_SAMPLE: TypeAdapter[StatusSample] = TypeAdapter(StatusSample)
STATUS_BATCH: TypeAdapter[StatusBatch] = TypeAdapter(StatusBatch)


EventCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class ElevatorEvent(WireModel):
    ts: Timestamp
    code: EventCode
    gov_code: Annotated[int, Field(strict=True, ge=0, le=9999)] | None = None
    detail: Text | None = None
    data: JsonObject | None = None


Gas = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,31}$")]


class Check(WireModel):
    passed: StrictBool
    failed_items: Annotated[list[ShortText], Field(max_length=100, default_factory=list)]


class Filling(WireModel):
    filling_id: Identifier
    cylinder_id: Identifier
    gas: Gas
    operator_id: Identifier
    started_at: Timestamp
    ended_at: Timestamp
    result: Literal["filled", "refused"]
    net_kg: Mass = 0.0
    tare_kg: Annotated[float, Field(strict=True, gt=0, le=1e6, allow_inf_nan=False)] | None = None
    pressure_mpa: Measure | None = None
    temperature_c: Measure | None = None
    precheck: Check
    postcheck: Check | None = None

    @model_validator(mode="after")
    def _ended_after_started(self) -> Filling:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class ScaleSample(WireModel):
    ts: Timestamp
    filling_id: Identifier
    cylinder_id: Identifier
    net_kg: Measure
    pressure_mpa: Measure | None = None


MAX_DELIVERY_CYLINDERS = 1000


class Delivery(WireModel):
    """`se/v1/stations/{station_id}/delivery`: cylinders out to a customer or
    back from one (CONTRACT.md v1.1, Stations); key `delivery_id`."""

    delivery_id: Identifier
    ts: Timestamp
    direction: Literal["out", "return"]
    cylinder_ids: Annotated[
        list[Identifier], Field(min_length=1, max_length=MAX_DELIVERY_CYLINDERS)
    ]
    customer: ShortText | None = None
    address: Text | None = None
    district: ShortText | None = None

    @model_validator(mode="after")
    def _each_cylinder_once(self) -> Delivery:
        # A cylinder cannot travel twice in one delivery: the record is wrong,
        # and which line is right is not ours to guess.
        seen: set[str] = set()
        for cid in self.cylinder_ids:
            if cid in seen:
                raise ValueError(f"cylinder_ids: {cid!r} is listed twice")
            seen.add(cid)
        return self


__all__ = [
    "MAX_BATCH",
    "STATUS_BATCH",
    "STATUS_SAMPLE",
    "Check",
    "Counter",
    "Delivery",
    "ElevatorEvent",
    "Filling",
    "FiniteFloat",
    "NonNegFloat",
    "ScaleSample",
    "StatusBatch",
    "StatusSample",
    "StrictInt",
]
