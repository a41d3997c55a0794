"""The one event feed of alerts and rescues (``alert_events``): its lock and
its NOTIFY channel. ``event_id`` is the SSE id of `/alerts/stream`; alert and
rescue changes share it, so one Last-Event-ID resumes both with nothing missed.
"""

from __future__ import annotations

# Taken before inserting an event, so event ids commit in order: a console
# resuming after id N never misses a smaller id committed later.
ALERT_EVENTS_LOCK = 0x5E3A0003
# NOTIFY'd with the event id on every commit of an event (api/notify.py listens).
ALERT_EVENTS_CHANNEL = "semon_alerts"
# The action of a rescue change in ``alert_events`` (streamed as `event: rescue`).
RESCUE_EVENT = "rescue"
