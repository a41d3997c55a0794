"""From (topic, raw bytes) to a validated message or a rejection with a reason.

Shared by ingest (which stores and dead-letters) and alerts (which judges);
both subscribe to the same topics and must agree on what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import orjson
from pydantic import ValidationError

from semon.domain.common import EPOCH_BRANCH, TIMESTAMP_BRANCH, UTC_TEXT_BRANCH, is_identifier
from semon.domain.wire import (
    STATUS_BATCH,
    STATUS_SAMPLE,
    Delivery,
    ElevatorEvent,
    Filling,
    ScaleSample,
    StatusSample,
)

MessageKind = Literal["status", "event", "filling", "scale", "delivery"]

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
    delivery: Delivery | None = None


@dataclass(frozen=True, slots=True)
class Topic:
    kind: MessageKind
    equipment_id: str


_SUFFIXES: dict[tuple[str, str], MessageKind] = {
    ("elevators", "status"): "status",
    ("elevators", "event"): "event",
    ("stations", "filling"): "filling",
    ("stations", "scale"): "scale",
    ("stations", "delivery"): "delivery",
}


def parse_topic(topic: str, root: str) -> Topic | str:
    """The message kind and equipment id, or why the topic is not ours."""
    prefix = root.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return f"topic {topic[:200]!r} is outside {root!r}"
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 3 or (parts[0], parts[2]) not in _SUFFIXES:
        return f"topic {topic[:200]!r} is not a device topic"
    if not is_identifier(parts[1]):
        return f"identifier {parts[1][:80]!r} in the topic is out of form"
    return Topic(kind=_SUFFIXES[(parts[0], parts[2])], equipment_id=parts[1])


def event_topics(root: str) -> list[str]:
    """The subscription of terminal events (alerts judges them first)."""
    return [f"{root.rstrip('/')}/elevators/+/event"]


def device_topics(root: str, *, deliveries: bool = True) -> list[str]:
    """The subscriptions that cover every device message (``deliveries``:
    with the stations' deliveries, which ingest stores and no rule judges)."""
    r = root.rstrip("/")
    topics = [
        f"{r}/elevators/+/status",
        f"{r}/elevators/+/event",
        f"{r}/stations/+/filling",
        f"{r}/stations/+/scale",
    ]
    return [*topics, f"{r}/stations/+/delivery"] if deliveries else topics


def _describe(err: ValidationError) -> tuple[RejectReason, str]:
    parts: list[str] = []
    reason: RejectReason = "invalid"
    # A bad timestamp fails every branch of its union (common.Timestamp);
    # the fallback branch's message covers any input, the fast ones add noise.
    errors = [
        e
        for e in err.errors(include_url=False)
        if e["loc"][-1:] not in ((EPOCH_BRANCH,), (UTC_TEXT_BRANCH,))
    ]
    for e in errors[:5]:
        if e["loc"][-1:] == (TIMESTAMP_BRANCH,):
            e["loc"] = e["loc"][:-1]
        loc = ".".join(str(p) for p in e["loc"]) or "payload"
        msg = str(e["msg"])
        if e["type"] == "too_long" and e["loc"][:1] == ("samples",) and len(e["loc"]) == 1:
            reason = "batch_too_large"
        parts.append(f"{loc}: {msg}")
    more = len(errors) - len(parts)
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

    latest = now + timedelta(seconds=future_tolerance_s)
    kind = parsed_topic.kind
    eid = parsed_topic.equipment_id
    ahead: str | None = None  # the field with a device time past `latest`
    try:
        if kind == "status":
            if "samples" in data:
                samples = tuple(STATUS_BATCH.validate_python(data)["samples"])
                if max(s["ts"] for s in samples) > latest:
                    ahead = next(
                        f"samples.{i}.ts" for i, s in enumerate(samples) if s["ts"] > latest
                    )
            else:
                samples = (STATUS_SAMPLE.validate_python(data),)
                ahead = "ts" if samples[0]["ts"] > latest else None
            out = Decoded(topic, kind, eid, status=samples)
        elif kind == "event":
            event = ElevatorEvent.model_validate(data)
            ahead = "ts" if event.ts > latest else None
            out = Decoded(topic, kind, eid, event=event)
        elif kind == "filling":
            filling = Filling.model_validate(data)
            # ended_at >= started_at: if either is ahead, ended_at is
            ahead = "ended_at" if filling.ended_at > latest else None
            out = Decoded(topic, kind, eid, filling=filling)
        elif kind == "delivery":
            delivery = Delivery.model_validate(data)
            ahead = "ts" if delivery.ts > latest else None
            out = Decoded(topic, kind, eid, delivery=delivery)
        else:
            scale = ScaleSample.model_validate(data)
            ahead = "ts" if scale.ts > latest else None
            out = Decoded(topic, kind, eid, scale=scale)
    except ValidationError as err:
        reason, detail = _describe(err)
        return reject(reason, detail)
    except (ValueError, TypeError, OverflowError) as exc:
        # defensive: one message must never crash a loop
        return reject("invalid", str(exc)[:500])
    if ahead is not None:
        # Checked here, once per message, not by a validator per sample: the
        # bound is the platform's clock at receipt, not a property of the type.
        return reject(
            "future_timestamp",
            f"{ahead}: timestamp more than {future_tolerance_s:g} s in the future",
        )
    return out
