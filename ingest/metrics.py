"""Prometheus metrics of the ingest service (default registry, no per-device labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from semon.loop_lag import BUCKETS as LOOP_LAG_BUCKETS
from semon.loop_lag import HELP as LOOP_LAG_HELP

# Counts
RECEIVED = Counter("semon_ingest_messages_received_total", "MQTT messages received")
STORED = Counter("semon_ingest_rows_stored_total", "Rows inserted", ["table"])
REJECTED = Counter(
    "semon_ingest_messages_rejected_total", "Messages dead-lettered, by reason", ["reason"]
)
DUPLICATES = Counter(
    "semon_ingest_duplicates_dropped_total", "Rows already stored (redeliveries)", ["table"]
)
WRITE_FAILURES = Counter(
    "semon_ingest_write_failures_total", "Batch writes that failed and were retried"
)

# What this process holds now
PENDING = Gauge(
    "semon_ingest_pending_messages",
    "Messages received and not yet committed, so not yet acknowledged: the backlog this "
    "process holds (the broker keeps the rest queued; ingest has no local spool)",
)
PENDING_BYTES = Gauge(
    "semon_ingest_pending_bytes",
    "Payload bytes received and not yet committed (bounded by ingest.max_pending_bytes)",
)
PENDING_BYTES_LIMIT = Gauge(
    "semon_ingest_pending_bytes_limit",
    "ingest.max_pending_bytes: reading from the broker pauses while this much waits",
)
DATABASE_UP = Gauge("semon_ingest_database_up", "1 while the last write succeeded")

# Distributions: batch sizes, times, lags
BATCH_ROWS = Histogram(
    "semon_ingest_batch_rows",
    "Rows per committed batch",
    buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 25000),
)
WRITE_SECONDS = Histogram(
    "semon_ingest_write_seconds",
    "Time to stage, insert and commit one batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_SECONDS = Histogram(
    "semon_ingest_lag_seconds",
    "Commit time minus the newest device time in a batch: how far what is stored trails the "
    "devices, a backlog queued in the broker included",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
COMMIT_WAIT_SECONDS = Histogram(
    "semon_ingest_commit_wait_seconds",
    "From a batch's first message received to its commit: how long the broker waits for "
    "the acknowledgement",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
LOOP_LAG = Histogram("semon_ingest_event_loop_lag_seconds", LOOP_LAG_HELP, buckets=LOOP_LAG_BUCKETS)
