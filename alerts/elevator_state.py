"""One elevator's state in memory: its recent samples, the standing episode
it is in (since when, under which threshold), faults in their debounce, the
last alarm press and alarm-line test."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.keys import offline_key, trapped_key
from semon.domain.wire import ElevatorEvent, StatusSample


@dataclass
class Elevator:
    eid: str
    samples: list[StatusSample] = field(default_factory=list)  # sorted by ts, a window
    judged_until: datetime | None = None
    last_rx: float = float("-inf")  # monotonic time the newest message arrived
    dirty: bool = False  # holds late or out-of-order samples not judged yet
    # The standing (or reported) trapped episode: since when, the threshold in
    # force and why it applies.
    episode_start: datetime | None = None
    episode_threshold_s: float = 0.0
    episode_reason: str = ""
    # When the threshold in force began to apply (a car standing occupied at a
    # landing that is then found between floors meets the lower one from then).
    threshold_since: datetime | None = None
    released_at: datetime | None = None
    alarm_at: datetime | None = None
    pending_faults: dict[str, ElevatorEvent] = field(default_factory=dict)
    last_alarm_test: datetime | None = None
    # The trapped deadline this car has in ElevatorRules.deadlines, if any
    # (platform time: its device-time due plus clock_offset_s).
    due: datetime | None = None
    # Its terminal's clock: seconds the platform is ahead of it (learned by
    # alerts/terminal_clock.py; 0 until its own messages agree on one),
    # and the newest (received, delay) pairs that estimate it, as floats.
    clock_offset_s: float = 0.0
    clock_known: bool = False  # its messages have agreed on clock_offset_s
    delays: list[tuple[float, float]] = field(default_factory=list)
    # Platform time its newest message arrived (None: none since start).
    heard_at: datetime | None = None
    # Its condition keys, made once: ElevatorRules.step looks them up for every sample.
    trapped_key: str = field(init=False)
    offline_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.trapped_key = trapped_key(self.eid)
        self.offline_key = offline_key(self.eid)

    @property
    def last_ts(self) -> datetime | None:
        return self.samples[-1]["ts"] if self.samples else None

    @property
    def last_sample(self) -> StatusSample | None:
        return self.samples[-1] if self.samples else None


def trapped_due(car: Elevator) -> datetime:
    """When the car's standing episode meets its threshold (device time)."""
    assert car.episode_start is not None
    return car.episode_start + timedelta(seconds=car.episode_threshold_s)


def device_now(car: Elevator, now: datetime) -> datetime:
    """The platform's ``now`` read on the car's terminal clock."""
    return now - timedelta(seconds=car.clock_offset_s) if car.clock_offset_s else now
