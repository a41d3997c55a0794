"""What the device models (an elevator's terminal, a filling station) share:
a life lived as a generator of emissions in device time, `_due(until)`
pulling those up to a moment, and incidents queued to be played."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from simulators.incidents import Incident

Spec = TypeVar("Spec")


@dataclass
class Emission:
    t: float
    kind: str  # "status" or "event"
    payload: dict[str, Any]


@dataclass
class Outgoing:
    """One MQTT message: topic below the root, payload, device time of its last item."""

    topic: str
    payload: dict[str, Any]
    t: float


class DeviceModel(Generic[Spec]):
    def __init__(self, spec: Spec, device_id: str, *, start: float, rng: random.Random) -> None:
        self.spec = spec
        self.id = device_id
        self.rng = rng
        self.t = start
        self.pending: list[Incident] = []  # to play, in time order
        self.finished: list[Incident] = []
        self._life = self._run()
        self._peek: Emission | None = None  # the next emission, not yet due

    def _run(self) -> Iterator[Emission]:
        """The device's life: its emissions in time order, forever."""
        raise NotImplementedError

    def _queue(self, incident: Incident) -> None:
        self.pending.append(incident)
        self.pending.sort(key=lambda i: i.at)

    def _due(self, until: float) -> Iterator[Emission]:
        """The emissions with device time <= `until`, in order."""
        while True:
            if self._peek is None:
                self._peek = next(self._life)
            em = self._peek
            if em.t > until:
                return
            self._peek = None
            yield em
