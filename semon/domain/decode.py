"""From (topic, raw bytes) to a validated message or a rejection with a reason.

Shared by ingest (which stores and dead-letters) and alerts (which judges);
both subscribe to the same topics and must agree on what is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import orjson
from pydantic import ValidationError

from semon.domain.common import ID_PATTERN
from semon.domain.wire import ElevatorEvent, Filling, ScaleSample, StatusBatch, StatusSample

MessageKind = Literal["status", "event", "filling", "scale"]

_ID_RE = re.compile(ID_PATTERN)

# Bounded set: these are the values of the rejection metric's `reason` label.
RejectReason = Literal[
    "too_large",
    "not_utf8",
    "not_json",
    "not_object",
    "bad_topic",
    "bad_identifier",
    "invalid",
    "future_timestamp",
    "batch_too_large",
]


@dataclass(frozen=True, slots=True)
class Rejection:
    topic: str
    payload: bytes
    reason: RejectReason
    detail: str


@dataclass(frozen=True, slots=True)
class Decoded:
    topic: str
    kind: MessageKind
    equipment_id: str  # elevator_id or station_id from the topic
    status: tuple[StatusSample, ...] = ()
    event: ElevatorEvent | None = None
    filling: Filling | None = None
    scale: ScaleSample | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    kind: MessageKind
    equipment_id: str


_SUFFIXES: dict[tuple[str, str], MessageKind] = {
    ("elevators", "status"): "status",
    ("elevators", "event"): "event",
    ("stations", "filling"): "filling",
    ("stations", "scale"): "scale",
}


def parse_topic(topic: str, root: str) -> Topic | str:
    """The message kind and equipment id, or why the topic is not ours."""
    prefix = root.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return f"topic {topic[:200]!r} is outside {root!r}"
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 3 or (parts[0], parts[2]) not in _SUFFIXES:
        return f"topic {topic[:200]!r} is not a device topic"
    if not _ID_RE.match(parts[1]):
        return f"identifier {parts[1][:80]!r} in the topic is out of form"
    return Topic(kind=_SUFFIXES[(parts[0], parts[2])], equipment_id=parts[1])


def device_topics(root: str) -> list[str]:
    """The subscriptions that cover every device message."""
    r = root.rstrip("/")
    return [
        f"{r}/elevators/+/status",
        f"{r}/elevators/+/event",
        f"{r}/stations/+/filling",
        f"{r}/stations/+/scale",
    ]


def _describe(err: ValidationError) -> tuple[RejectReason, str]:
    parts: list[str] = []
    reason: RejectReason = "invalid"
    for e in err.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        msg = str(e["msg"])
        if "in the future" in msg:
            reason = "future_timestamp"
        if e["type"] == "too_long" and e["loc"][:1] == ("samples",) and len(e["loc"]) == 1:
            reason = "batch_too_large"
        parts.append(f"{loc}: {msg}")
    more = err.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return reason, "; ".join(parts)


def decode(
    topic: str,
    payload: bytes,
    *,
    root: str,
    now: datetime,
    max_bytes: int = 1_048_576,
    future_tolerance_s: float = 300.0,
) -> Decoded | Rejection:
    """Validate one MQTT message against the contract. Never raises for bad input."""

    def reject(reason: RejectReason, detail: str) -> Rejection:
        return Rejection(topic=topic, payload=payload, reason=reason, detail=detail)

    if len(payload) > max_bytes:
        return reject("too_large", f"payload of {len(payload)} bytes exceeds {max_bytes}")
    parsed_topic = parse_topic(topic, root)
    if isinstance(parsed_topic, str):
        reason: RejectReason = "bad_identifier" if "out of form" in parsed_topic else "bad_topic"
        return reject(reason, parsed_topic)
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if isinstance(exc.__cause__, UnicodeDecodeError) or "utf-8" in str(exc).lower():
            return reject("not_utf8", "payload is not valid UTF-8")
        return reject("not_json", f"payload is not JSON: {str(exc)[:200]}")
    if not isinstance(data, dict):
        return reject("not_object", f"payload is a JSON {type(data).__name__}, not an object")

    ctx = {"latest": now + timedelta(seconds=future_tolerance_s)}
    kind = parsed_topic.kind
    eid = parsed_topic.equipment_id
    try:
        if kind == "status":
            if "samples" in data:
                batch = StatusBatch.model_validate(data, context=ctx)
                return Decoded(topic, kind, eid, status=tuple(batch.samples))
            sample = StatusSample.model_validate(data, context=ctx)
            return Decoded(topic, kind, eid, status=(sample,))
        if kind == "event":
            return Decoded(topic, kind, eid, event=ElevatorEvent.model_validate(data, context=ctx))
        if kind == "filling":
            return Decoded(topic, kind, eid, filling=Filling.model_validate(data, context=ctx))
        return Decoded(topic, kind, eid, scale=ScaleSample.model_validate(data, context=ctx))
    except ValidationError as err:
        reason, detail = _describe(err)
        return reject(reason, detail)
    except (ValueError, TypeError, OverflowError) as exc:
        # defensive: one message must never crash a loop
        return reject("invalid", str(exc)[:500])
