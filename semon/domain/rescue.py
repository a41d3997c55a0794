"""Rescues, the 96333 work order (CONTRACT.md v1.1 "Rescues"): states, the
legal steps as one table, the request bodies, the rescue as read and streamed,
and the deadlines.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from semon.domain.common import (
    NO_NUL_SCHEMA,
    ONE_LINE_SCHEMA,
    Identifier,
    Line,
    NotBool,
    clean_line,
)

RescueState = Literal["open", "dispatched", "on_site", "freed", "closed"]
RescueAction = Literal["dispatch", "arrive", "free", "callback", "close", "cause"]
CauseCategory = Literal["external", "human", "door_system", "equipment", "power", "unknown"]
Tier = Annotated[int, Field(ge=1, le=3)]
# NotBool: JSON true/false is not a head count (pydantic's lax mode took it as 1/0).
Count = Annotated[int, Field(ge=0, le=10_000), NotBool]
Phone = Annotated[
    str, Field(min_length=1, max_length=40), AfterValidator(clean_line), ONE_LINE_SCHEMA
]


def _no_nul(value: str) -> str:
    # PostgreSQL text holds no NUL: refuse it here, naming the field.
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    return value


Note = Annotated[str, Field(max_length=2000), AfterValidator(_no_nul), NO_NUL_SCHEMA]
RescueCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9\-]{1,32}$")]

RESCUE_STATES: tuple[RescueState, ...] = ("open", "dispatched", "on_site", "freed", "closed")
ACTIVE_STATES: tuple[RescueState, ...] = ("open", "dispatched", "on_site")
TIER_FIRE = 3
# The firm may report a cause this long after the rescue was closed.
CAUSE_WINDOW_DAYS = 7

# Every legal step: action -> (the states it is legal from, the state it
# leads to; None keeps the state). Anything else answers 409.
TRANSITIONS: dict[RescueAction, tuple[frozenset[RescueState], RescueState | None]] = {
    # a second dispatch from `dispatched` sends the next tier after an escalation
    "dispatch": (frozenset({"open", "dispatched"}), "dispatched"),
    "arrive": (frozenset({"dispatched"}), "on_site"),
    "free": (frozenset({"on_site"}), "freed"),
    # the centre calls back those inside to reassure them, at any step
    "callback": (frozenset({"open", "dispatched", "on_site", "freed"}), None),
    # a self-release or a false alarm is closed before anyone frees anybody
    "close": (frozenset({"open", "dispatched", "on_site", "freed"}), "closed"),
    "cause": (frozenset({"closed"}), None),
}


def step(state: RescueState, action: RescueAction) -> RescueState | None:
    """The state ``action`` leads to from ``state``; None when it is illegal."""
    legal, target = TRANSITIONS[action]
    if state not in legal:
        return None
    return target or state


def new_rescue_id() -> str:
    return "rs_" + uuid.uuid4().hex


# -- request bodies ------------------------------------------------------------


class CallIn(BaseModel):
    """A phone call to the centre: the lift by id or by the code in its car."""

    # The document says one of the two is given (and not null), so a
    # schema-valid call always names a lift.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [
                {"required": ["elevator_id"], "properties": {"elevator_id": {"type": "string"}}},
                {"required": ["rescue_code"], "properties": {"rescue_code": {"type": "string"}}},
            ]
        },
    )

    elevator_id: Identifier | None = None
    rescue_code: RescueCode | None = None
    caller_name: Line | None = None
    caller_phone: Phone | None = None
    trapped_reported: Count | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _one_lift(self) -> CallIn:
        if self.elevator_id is None and self.rescue_code is None:
            raise ValueError("elevator_id or rescue_code is required")
        return self


class DispatchIn(BaseModel):
    tier: Tier
    assignee: Line = Field(max_length=200)
    phone: Phone
    eta_min: Annotated[int, Field(ge=0, le=24 * 60)] | None = None


class FreeIn(BaseModel):
    """Those freed; `injured_count` > `trapped_count` is refused by the route
    (a rule between two fields the schema cannot state)."""

    trapped_count: Count
    injured_count: Count


class CallbackIn(BaseModel):
    note: Note | None = None


class CloseIn(BaseModel):
    cause_category: CauseCategory
    cause_note: Note | None = None
    # How the alert is resolved when the rescue closes before anyone freed
    # anybody (a freed rescue's alert is already resolved as `rescued`).
    resolution: Literal["self_released", "false_alarm", "other"] = "self_released"


class CauseIn(BaseModel):
    cause_category: CauseCategory
    cause_note: Note


class NoBody(BaseModel):
    """`arrive` takes no fields (an empty object or no body)."""


# -- the rescue as read ----------------------------------------------------------


class Assignment(BaseModel):
    tier: int
    assignee: str
    phone: str
    eta_min: int | None = None
    dispatched_at: datetime
    arrived_at: datetime | None = None


class Call(BaseModel):
    at: datetime
    caller_name: str | None = None
    caller_phone: str | None = None
    trapped_reported: int | None = None
    note: str | None = None


class Escalation(BaseModel):
    at: datetime
    reason: Literal["dispatch_overdue", "arrival_overdue"]
    from_tier: int
    to_tier: int
    due_at: datetime


class Deadline(BaseModel):
    """What is due next and by when (the console's countdown)."""

    kind: Literal["dispatch", "arrival"]
    tier: int
    due_at: datetime


class RescueOut(BaseModel):
    rescue_id: str
    elevator_id: str
    alert_id: str
    source: Literal["terminal", "call"]
    state: RescueState
    tier: int = Field(description="the tier due now (1 firm, 2 rescue organisation, 3 fire)")
    assignments: list[Assignment]
    calls: list[Call]
    escalations: list[Escalation]
    opened_at: datetime
    dispatched_at: datetime | None = None
    on_site_at: datetime | None = None
    freed_at: datetime | None = None
    closed_at: datetime | None = None
    callback_at: datetime | None = None
    callback_note: str | None = None
    trapped_count: int | None = None
    injured_count: int | None = None
    cause_category: CauseCategory | None = None
    cause_note: str | None = None
    location: dict[str, Any] | None = None
    district: str | None = None
    firm_id: str | None = None
    use_unit: str | None = None
    rescue_code: str | None = None
    next_deadline: Deadline | None = None
    # Who to call at each tier, from the registry (the console's ladder).
    ladder: list[dict[str, Any]] = Field(default_factory=list)
    updated_at: datetime
