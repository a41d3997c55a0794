"""What rules ask the writer to do: open, close or record an alert; and what
the engine tells it: how far judging has gone (a checkpoint)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from semon.domain.alerts import AlertDraft


@dataclass
class Raise:
    """Open the condition's alert (a repeat merges its details into the open one)."""

    draft: AlertDraft
    # When it was published from memory before its row was stored (writer).
    paged_at: datetime | None = None


@dataclass
class Close:
    """The condition ended by itself: resolve its open alert."""

    condition_key: str
    resolution: str
    ended_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # A trapped alert closed after a rescuer arrived was a rescue, not a self-release.
    resolution_if_on_site: str | None = None


@dataclass
class Record:
    """An episode already over when we learnt of it: stored resolved, never paged."""

    draft: AlertDraft
    resolution: str


@dataclass
class Checkpoint:
    """Every device message received before ``through`` (wall time) is judged.

    Queued behind the changes that judging made, so the writer stores it only
    once they are stored: the database never claims more than it holds."""

    through: datetime


Op = Raise | Close | Record | Checkpoint
