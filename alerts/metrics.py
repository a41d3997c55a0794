"""Prometheus metrics of the alerts process (default registry, no per-device labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from semon.loop_lag import BUCKETS as LOOP_LAG_BUCKETS
from semon.loop_lag import HELP as LOOP_LAG_HELP

MESSAGES = Counter("semon_alerts_messages_total", "Device messages judged", ["kind"])
REJECTED = Counter(
    "semon_alerts_rejected_total", "Device messages the alerts process could not decode", ["reason"]
)
UNJUDGED = Counter(
    "semon_alerts_unjudged_total",
    "Device messages not judged: the database was down and the cache had no record",
    ["reason"],
)
PUBLISHED = Counter("semon_alerts_published_total", "Alert messages published to MQTT", ["action"])
STORED = Counter("semon_alerts_changes_total", "Alert changes stored", ["op"])
OUTBOX = Gauge("semon_alerts_outbox_ops", "Alert changes waiting for the database")
SLOW_STORE = Counter(
    "semon_alerts_paged_before_stored_total",
    "Live pages published from memory because storing them took longer than page_store_wait_s",
)
SAMPLE_LAG = Gauge(
    "semon_alerts_sample_lag_seconds",
    "Platform time minus the device time of the newest status sample judged"
    " (how far telemetry lags when the process is overloaded: pages do not wait for it)",
)
DEFERRED = Counter(
    "semon_alerts_trapped_deferred_total",
    "Trapped timers that fell due while the car's own newer samples still waited in the"
    " inbox: judged after them (they may show the car released), not paged blind",
)
INBOX_PAUSES = Counter(
    "semon_alerts_inbox_pauses_total",
    "Times the samples' inbox reached SEMON_ALERTS__INBOX_MAX_BYTES and reading from"
    " the broker paused (the engine behind: the broker keeps the rest)",
)
INBOX_BYTES = Gauge(
    "semon_alerts_inbox_bytes", "Payload bytes of the device messages waiting to be judged"
)
INBOX_PEAK = Gauge(
    "semon_alerts_inbox_bytes_peak",
    "The most payload bytes the inbox held past SEMON_ALERTS__INBOX_MAX_BYTES since start",
)
LOOP_LAG = Histogram("semon_alerts_event_loop_lag_seconds", LOOP_LAG_HELP, buckets=LOOP_LAG_BUCKETS)
