"""From MQTT messages to committed batches, acknowledging only what is committed.

Each message's handler decodes it, adds its rows to the open batch and hands
back the batch's commit future; the PUBACK goes out only when that future is
done (semon.mqtt, ``on_message_deferred``). Everything not yet committed is therefore still the
broker's: a kill -9 or a database outage loses nothing, the broker delivers
it again (duplicates meet the tables' keys). During an outage the writer
retries the same batch with backoff; the broker stops sending once our
receive maximum of unacknowledged messages is reached and queues the rest
(and the client stops reading at the same window), so memory stays bounded
without a local spool.

One batch is written while the next fills, so the database and the decoding
overlap: the write runs in a thread of its own with a plain connection, so
the COPY is not starved while the event loop decodes (the thread spends its
time in libpq, outside the GIL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import Connection

from ingest import metrics
from semon.domain.decode import Decoded, Rejection, decode
from semon.settings import Settings
from semon.store.telemetry import TABLES, Rows, Written, prepare_staging, write_rows

log = logging.getLogger(__name__)

# Errors a retry cannot fix: the rows themselves are refused (e.g. a NUL
# character in a text field). Anything else (connection lost, server
# restarting, disk full) is retried until it works.
REFUSED = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


def _device_time(message: Decoded) -> datetime:
    if message.status:
        return message.status[-1]["ts"]
    if message.event is not None:
        return message.event.ts
    if message.scale is not None:
        return message.scale.ts
    if message.delivery is not None:
        return message.delivery.ts
    assert message.filling is not None
    return message.filling.ended_at


class Batch:
    __slots__ = ("bytes", "committed", "first_at", "items", "messages", "newest", "rows")

    def __init__(self) -> None:
        self.rows = Rows()
        self.items: list[tuple[str, bytes, datetime]] = []  # topic, payload, received at
        self.messages = 0
        self.bytes = 0  # payload bytes
        self.first_at = 0.0
        self.newest: datetime | None = None  # the newest device time in the batch
        # Its result (0, success) acknowledges every message of the batch.
        self.committed: asyncio.Future[int] = asyncio.get_running_loop().create_future()


class ProblemLog:
    """A log line per problem, never per message: the first rejection of each
    reason is logged with an example, the rest summed up once a minute."""

    def __init__(self, every_s: float = 60.0) -> None:
        self._every_s = every_s
        self._seen: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._last = time.monotonic()

    def rejected(self, reason: str, topic: str, detail: str) -> None:
        if reason not in self._seen:
            self._seen.add(reason)
            # The topic as a repr: a device's topic with a newline in it
            # must not forge log lines.
            log.warning(
                "dead-lettered a message (%s) on %r: %s; further ones are summed up every %.0fs",
                reason,
                topic[:200],
                detail[:300],
                self._every_s,
            )
        else:
            self._counts[reason] += 1
        now = time.monotonic()
        if self._counts and now - self._last >= self._every_s:
            log.warning("dead-lettered in the last %.0fs: %s", now - self._last, dict(self._counts))
            self._counts.clear()
            self._last = now


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cfg = settings.ingest
        self._root = settings.mqtt.topic_root
        self._batch = Batch()
        self._wake = asyncio.Event()  # the open batch has something
        self._full = asyncio.Event()  # the open batch reached batch_rows
        self._closing = False
        # What messages get once we are closing: never done, never acknowledged.
        self._never: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._conn: Connection[Any] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-db")
        self._down_since: float | None = None
        self._problems = ProblemLog()
        self.pending = 0
        self.pending_bytes = 0
        metrics.PENDING_BYTES_LIMIT.set(self._cfg.max_pending_bytes)
        self.committed = 0  # messages committed (and so acknowledged) by this process

    # -- the MQTT side -------------------------------------------------------

    def handle(
        self, topic: str | bytes, payload: bytes, qos: int, properties: dict[str, Any]
    ) -> asyncio.Future[int]:
        """Called inline for each message (``mqtt.connect(on_message_deferred=...)``):
        the future returned is the batch's commit, and the message is acknowledged
        when it is done. One future per batch, not a task per message."""
        if isinstance(topic, bytes):  # gmqtt hands over a topic that is not UTF-8 as bytes
            topic = topic.decode("utf-8", errors="replace")
        if self._closing:
            # Not ours any more: never acknowledged, the broker keeps it for
            # the next session.
            return self._never
        now = datetime.now(UTC)
        message = self._decode(topic, payload, now)
        batch = self._batch
        if isinstance(message, Decoded):
            # One comparison a message: terminals send a batch's samples in order.
            ts = _device_time(message)
            if batch.newest is None or ts > batch.newest:
                batch.newest = ts
        batch.rows.add(message, now)
        # Only what it takes to decode it again (the rare one-by-one retry):
        # the decoded samples are garbage once their rows exist, and a batch
        # of a receive window's messages held them twice.
        batch.items.append((topic, payload, now))
        if batch.messages == 0:
            batch.first_at = time.monotonic()
            self._wake.set()
        batch.messages += 1
        batch.bytes += len(payload)
        self.pending += 1
        self.pending_bytes += len(payload)
        metrics.PENDING_BYTES.set(self.pending_bytes)  # live: it is what an outage grows
        if len(batch.rows) >= self._cfg.batch_rows:
            self._full.set()
        return batch.committed

    def _decode(self, topic: str, payload: bytes, now: datetime) -> Decoded | Rejection:
        message = decode(
            topic,
            payload,
            root=self._root,
            now=now,
            max_bytes=self._cfg.max_payload_bytes,
            future_tolerance_s=self._cfg.future_tolerance_s,
        )
        if isinstance(message, Rejection) and message.reason == "too_large":
            # Keep the head of an oversized payload, not megabytes of it.
            message = Rejection(
                message.topic,
                payload[: self._cfg.max_payload_bytes],
                message.reason,
                message.detail,
            )
        return message

    # -- the database side ---------------------------------------------------

    async def run(self) -> None:
        """Write batches until closed and drained."""
        try:
            while True:
                await self._wake.wait()
                batch = self._batch
                if not self._closing:
                    wait = self._cfg.batch_max_age_s - (time.monotonic() - batch.first_at)
                    if wait > 0 and not self._full.is_set():
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._full.wait(), timeout=wait)
                self._batch = Batch()
                self._wake.clear()
                self._full.clear()
                if batch.messages == 0:  # woken by close() with nothing in hand
                    return
                metrics.RECEIVED.inc(batch.messages)
                metrics.PENDING.set(self.pending)
                metrics.PENDING_BYTES.set(self.pending_bytes)
                await self._write(batch)
                self.pending -= batch.messages
                self.pending_bytes -= batch.bytes
                self.committed += batch.messages
                metrics.PENDING.set(self.pending)
                metrics.PENDING_BYTES.set(self.pending_bytes)
                batch.committed.set_result(0)
                if self._closing and self._batch.messages == 0:
                    return
        finally:
            # The thread closes the connection and ends; the interpreter waits
            # for it at exit, so a cancelled writer still closes cleanly.
            self._thread.submit(self._drop_connection)
            self._thread.shutdown(wait=False)

    async def close(self) -> None:
        """Stop taking messages; the batch in hand is written by `run`, which then ends."""
        self._closing = True
        self._wake.set()

    # These run in the database thread, which alone touches the connection.

    def _connection(self) -> Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = Connection.connect(self._settings.database_url, connect_timeout=5)
            prepare_staging(self._conn)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:  # already broken; closing is best effort
                log.debug("closing a broken connection: %s", exc)
            self._conn = None

    def _commit(self, batch: Batch) -> list[tuple[Rows, Written]]:
        """One transaction for the batch; if the database refuses its rows, one
        per message so that only the culprit is dead-lettered."""
        conn = self._connection()
        try:
            written = write_rows(conn, batch.rows)
            conn.commit()
            return [(batch.rows, written)]
        except REFUSED as exc:
            conn.rollback()
            log.warning(
                "the database refused a batch of %d messages (%s); writing "
                "them one by one to dead-letter the culprit",
                batch.messages,
                str(exc).splitlines()[0][:200],
            )
        done = []
        for topic, payload, received_at in batch.items:
            # Decoded again as on arrival (same clock reading): same rows.
            message = self._decode(topic, payload, received_at)
            rows = Rows()
            rows.add(message, received_at)
            try:
                written = write_rows(conn, rows)
                conn.commit()
            except REFUSED as exc:
                conn.rollback()
                rows = Rows()
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                rows.add_dead(
                    received_at,
                    message.topic,
                    payload,
                    "invalid",
                    f"refused by the database: {reason}",
                )
                written = write_rows(conn, rows)
                conn.commit()
            done.append((rows, written))
        return done

    # Back on the event loop.

    async def _write(self, batch: Batch) -> None:
        """Commit the batch, retrying until the database takes it."""
        loop = asyncio.get_running_loop()
        delay = 0.1
        while True:
            try:
                started = time.perf_counter()
                done = await loop.run_in_executor(self._thread, self._commit, batch)
                metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
                for rows, written in done:
                    self._committed(rows, written.staged, written.inserted)
                metrics.COMMIT_WAIT_SECONDS.observe(time.monotonic() - batch.first_at)
                if batch.newest is not None:
                    lag = (datetime.now(UTC) - batch.newest).total_seconds()
                    metrics.LAG_SECONDS.observe(max(lag, 0.0))
                if self._down_since is not None:
                    log.warning(
                        "database writes work again after %.1fs; draining the backlog",
                        time.monotonic() - self._down_since,
                    )
                    self._down_since = None
                metrics.DATABASE_UP.set(1)
                return
            except (psycopg.Error, OSError) as exc:
                metrics.WRITE_FAILURES.inc()
                metrics.DATABASE_UP.set(0)
                await loop.run_in_executor(self._thread, self._drop_connection)
                if self._down_since is None:
                    self._down_since = time.monotonic()
                    log.error(
                        "database write failed (%s); holding %d messages "
                        "unacknowledged (the broker keeps the rest) and retrying",
                        str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
                        self.pending,
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._cfg.write_retry_max_s)

    def _committed(self, rows: Rows, staged: dict[str, int], inserted: dict[str, int]) -> None:
        metrics.BATCH_ROWS.observe(len(rows))
        for table in TABLES:
            if table in staged:
                metrics.STORED.labels(table).inc(inserted[table])
                metrics.DUPLICATES.labels(table).inc(staged[table] - inserted[table])
        if "dead_letters" in staged:
            # A redelivered rejection is stored once, but counted as rejected
            # below at every receipt: the metric counts what devices sent.
            dropped = staged["dead_letters"] - inserted["dead_letters"]
            metrics.DUPLICATES.labels("dead_letters").inc(dropped)
        for _at, topic, _payload, reason, detail, _digest in rows.dead:
            metrics.REJECTED.labels(reason).inc()
            self._problems.rejected(reason, topic, detail)
