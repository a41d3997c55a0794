"""Store, then publish: the one task that writes alerts, and the outbox.

Every op is stored (``alerts`` + ``alert_events``) before its message goes to
MQTT; a live trapped passenger goes out from memory first when the database
is down or slow. The engine's checkpoints come through the same queue, and
the sweep's ops through a bulk queue that yields to every judged change
(README, "Alerts: rules on device time": database down, slow, sweep flood).
Also here: publishing rows nobody published (``publish_pending``) and
escalation.

Pages (a live trapped passenger or fault raised) have their own queue and task
(``paging``): they wait for no queued op, only for the write in progress, and
a trapped passenger goes out from memory if its row is not stored within
``page_store_wait_s`` of being judged, whatever held it up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from alerts.metrics import OUTBOX, PUBLISHED, SLOW_STORE, STORED
from alerts.ops import Checkpoint, Close, Op, Raise, Record
from alerts.paging import page_again
from alerts.registry import RegistryCache
from semon import mqtt
from semon.clock import Clock
from semon.domain.alerts import AlertMessage, draft_message, message_json, new_alert_id
from semon.i18n import reader_for
from semon.settings import Settings
from semon.store import alerts as store
from semon.store.alert_checkpoints import save_checkpoint
from semon.store.alert_delivery import mark_published, unpublished_events
from semon.store.pool import DB_UNAVAILABLE

log = logging.getLogger(__name__)

# Unacknowledged pages at most when publishing a backlog of rows (capped by
# the broker's receive maximum in semon.mqtt), and how long to wait for room.
PUBLISH_WINDOW = 100
ROOM_WAIT_S = 5.0

# Published from memory when the database is down (a life may depend on it).
FROM_MEMORY = frozenset({"trapped_passenger"})
# Raised ahead of every queued op, on the page queue.
PAGES = frozenset({"trapped_passenger", "elevator_fault"})

Stored = tuple[AlertMessage, int | None]


class BulkTurn:
    """Queued among the engine's ops: "write the sweep's ops now, while no
    engine op waits" (Writer.put_bulk)."""


BULK_TURN = BulkTurn()


class Writer:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[AsyncConnection],
        client: mqtt.Client,
        clock: Clock,
        registry: RegistryCache,
    ) -> None:
        self.settings = settings
        self.cfg = settings.alerts
        self.root = settings.mqtt.topic_root.rstrip("/")
        self.me = self.cfg.client_id  # author and publisher of the rows written here
        # Summaries are stored and published in the platform's language.
        self.speaker = reader_for(settings.i18n)
        self.pool = pool
        self.client = client
        self.clock = clock
        self.registry = registry
        self.queue: asyncio.Queue[Op | BulkTurn] = asyncio.Queue()
        self.bulk: deque[Op] = deque()  # the sweep's ops, written when nothing else waits
        # Pages, ahead of the queue (``paging``), and when each was judged (monotonic).
        self.pages: asyncio.Queue[tuple[Op, float]] = asyncio.Queue()
        self.paging = False  # a page is being stored or published now
        self.page_writing: asyncio.Future[None] | None = None
        # Condition keys of the ops in ``queue``: a raise whose condition has a
        # change still queued keeps its place behind it (a close, then a new
        # episode's raise, must be stored in that order).
        self._queued: Counter[str] = Counter()
        self._paged: Counter[str] = Counter()  # ... and of the ops in ``pages``
        self.outbox: list[tuple[Op, datetime | None]] = []
        self.db_ok = True
        self._next_try = 0.0
        # Held while writing + publishing our own rows, so publish_pending never
        # publishes a row this task is about to publish itself.
        self.lock = asyncio.Lock()
        self.inflight: set[int] = set()
        self.to_mark: list[int] = []
        # other workers' unpublished rows -> when this one first saw them (monotonic)
        self._others: dict[int, float] = {}

    # -- MQTT --------------------------------------------------------------

    def publish(self, message: dict[str, Any]) -> None:
        topic = f"{self.root}/alerts/{message['kind']}/{message['equipment_id']}"
        self.client.publish(topic, orjson.dumps(message), qos=1)
        PUBLISHED.labels(message.get("event", "raise")).inc()

    async def room(self) -> bool:
        """Wait until the broker's window (its receive maximum, 20 by default
        in Mosquitto) has room: a burst of pending rows published at once would
        run out of packet ids. False if none came within ROOM_WAIT_S; the
        caller leaves the rest for its next round."""
        try:
            await self.client.wait_window(PUBLISH_WINDOW, timeout_s=ROOM_WAIT_S)
        except TimeoutError:
            return False
        return True

    # -- ops ---------------------------------------------------------------

    def put(self, op: Op) -> None:
        """Queue an op the engine judged; a page goes to the page queue, and
        so does any later change of a condition whose page is still there
        (its close must not be stored before its raise)."""
        key = _key(op)
        page = (
            isinstance(op, Raise)
            and op.draft.live
            and op.draft.kind in PAGES
            and not self._queued[op.draft.condition_key]
        )
        if page or (key is not None and self._paged[key]):
            if key is not None:
                self._paged[key] += 1
            self.pages.put_nowait((op, time.monotonic()))
            self.paging = True
            return
        if key is not None:
            self._queued[key] += 1
        self.queue.put_nowait(op)

    def take(self) -> Op | BulkTurn:
        """The next queued op (the queue is not empty)."""
        op = self.queue.get_nowait()
        self._unqueued(op)
        return op

    def _unqueued(self, op: Op | BulkTurn) -> None:
        key = _key(op)
        if key is not None:
            self._queued[key] -= 1
            if self._queued[key] <= 0:
                del self._queued[key]

    async def run(self) -> None:
        while True:
            try:
                op = await asyncio.wait_for(self.queue.get(), timeout=None if self.db_ok else 0.5)
            except TimeoutError:
                op = None
            if op is not None:
                try:
                    await self.apply(op)
                finally:
                    # Only now may a page of its condition go ahead of the queue.
                    self._unqueued(op)
            if not self.db_ok and time.monotonic() >= self._next_try:
                await self.flush_outbox()

    async def run_pages(self) -> None:
        """The page task: each page is stored and published as soon as the
        write in progress (if any) is done, ahead of the queue."""
        while True:
            op, judged = await self.pages.get()
            self.paging = True
            try:
                await self.page(op, judged)
            finally:
                # Only now may a later change of its condition take the queue.
                key = _key(op)
                if key is not None:
                    self._paged[key] -= 1
                    if self._paged[key] <= 0:
                        del self._paged[key]
                self.paging = not self.pages.empty()

    async def page(self, op: Op, judged: float) -> None:
        # Its own task, shielded: a shutdown while it is stored lets the
        # store finish (the service's drain awaits ``page_writing``).
        writing = self.page_writing = asyncio.ensure_future(self.apply(op))
        if isinstance(op, Raise) and op.draft.kind in FROM_MEMORY and op.paged_at is None:
            wait = self.cfg.page_store_wait_s - (time.monotonic() - judged)
            done, _ = await asyncio.wait({writing}, timeout=max(0.0, wait))
            if not done and op.paged_at is None:
                # Held by the write in progress, the pool or the database:
                # the row follows (it keeps the id published here).
                SLOW_STORE.inc()
                self._page_from_memory(op, self.clock.now())
        await asyncio.shield(writing)

    def put_bulk(self, ops: list[Op]) -> None:
        if ops and not self.bulk:
            self.queue.put_nowait(BULK_TURN)
        self.bulk.extend(ops)

    async def _bulk_turn(self) -> None:
        while self.bulk:
            if not self.queue.empty():
                # An engine op arrived: it goes first, the bulk after it.
                self.queue.put_nowait(BULK_TURN)
                return
            await self.apply(self.bulk.popleft())

    async def apply(self, op: Op | BulkTurn) -> None:
        if isinstance(op, BulkTurn):
            await self._bulk_turn()
            return
        if isinstance(op, Checkpoint) and not self.db_ok:
            self._to_outbox(op)
            return
        if isinstance(op, Raise | Record):
            await self.registry.fill(op.draft, db_ok=self.db_ok)
        if not self.db_ok:
            self._to_outbox(op)
            return
        try:
            await self._write(op, published_at=None)
        except DB_UNAVAILABLE as exc:
            log.warning("database unavailable (%s): alert changes go to the outbox", exc)
            self.db_ok = False
            self._next_try = time.monotonic() + 1.0
            self._to_outbox(op)

    def _to_outbox(self, op: Op) -> None:
        if (
            isinstance(op, Checkpoint)
            and self.outbox
            and isinstance(self.outbox[-1][0], Checkpoint)
        ):
            self.outbox[-1] = (op, None)  # only the latest one matters
            return
        published_at = None
        if isinstance(op, Raise) and op.draft.kind in FROM_MEMORY and op.draft.live:
            published_at = op.paged_at or self._page_from_memory(op, self.clock.now())
        self.outbox.append((op, published_at))
        OUTBOX.set(len(self.outbox))

    def _page_from_memory(self, op: Raise, now: datetime) -> datetime:
        """Publish a page before its row is stored (the row keeps its id)."""
        op.draft.alert_id = op.draft.alert_id or new_alert_id()
        msg = draft_message(op.draft, op.draft.alert_id, now=now, speaker=self.speaker)
        self.publish(message_json(msg, "raise"))
        op.paged_at = now
        return now

    async def _raise(self, conn: AsyncConnection, op: Raise, now: datetime) -> Stored:
        """Store a raise; a live page that the store holds longer than
        ``page_store_wait_s`` is published from memory meanwhile."""
        d = op.draft
        if d.kind not in FROM_MEMORY or not d.live or op.paged_at is not None:
            return await store.raise_alert(
                conn, d, now=now, published_at=op.paged_at, worker=self.me, speaker=self.speaker
            )
        d.alert_id = d.alert_id or new_alert_id()
        storing = asyncio.ensure_future(
            store.raise_alert(conn, d, now=now, worker=self.me, speaker=self.speaker)
        )
        done, _ = await asyncio.wait({storing}, timeout=self.cfg.page_store_wait_s)
        if not done and op.paged_at is None:  # the page task may have paged it already
            SLOW_STORE.inc()
            self._page_from_memory(op, now)
        return await storing

    async def _record(self, conn: AsyncConnection, op: Record, now: datetime) -> Stored:
        """Store an episode already over; it is never paged."""
        msg, event_id = await store.record_resolved(
            conn, op.draft, now=now, resolution=op.resolution, worker=self.me, speaker=self.speaker
        )
        # an episode already stored (a re-judged backlog) is no new record
        STORED.labels("record" if event_id is not None else "known").inc()
        return msg, None

    async def flush_outbox(self) -> None:
        """Store what the outbox holds, in order; the database is back when this succeeds."""
        try:
            while self.outbox:
                op, published_at = self.outbox[0]
                await self._write(op, published_at=published_at)
                self.outbox.pop(0)
                OUTBOX.set(len(self.outbox))
        except DB_UNAVAILABLE as exc:
            log.debug("database still unavailable: %s", exc)
            self._next_try = time.monotonic() + 1.0
            return
        if not self.db_ok:
            log.info("database back: outbox stored")
        self.db_ok = True

    async def _write(self, op: Op, *, published_at: datetime | None) -> None:
        now = self.clock.now()
        result: Stored | None
        action = "raise"
        async with self.lock:
            async with (
                asyncio.timeout(self.cfg.db_write_timeout_s),
                self.pool.connection(timeout=self.cfg.db_timeout_s) as conn,
            ):
                if isinstance(op, Checkpoint):
                    await save_checkpoint(
                        conn,
                        topic_root=self.settings.mqtt.topic_root,
                        partitions=self.cfg.partitions,
                        partition=self.cfg.partition,
                        through=op.through,
                        client_id=self.me,
                    )
                    await conn.commit()
                    return
                if isinstance(op, Raise):
                    result = await self._raise(conn, op, now)
                    STORED.labels("raise" if result[1] is not None else "repeat").inc()
                    if op.paged_at is not None and result[1] is not None:
                        # Paged from memory already: the row only needs marking.
                        self.to_mark.append(int(result[1]))
                        return
                elif isinstance(op, Record):
                    result = await self._record(conn, op, now)
                else:
                    action = "resolve"
                    result = await store.resolve_condition(
                        conn,
                        op.condition_key,
                        now=now,
                        resolution=op.resolution,
                        ended_at=op.ended_at,
                        details=op.details,
                        resolution_if_on_site=op.resolution_if_on_site,
                        published_at=published_at,
                        by=self.me,
                        publisher=self.me,
                    )
                    STORED.labels("resolve").inc()
            if result is None or result[1] is None or published_at is not None:
                return
            msg, event_id = result[0], int(result[1])
            self.inflight.add(event_id)
        self.publish(message_json(msg, action))
        self.to_mark.append(event_id)

    # -- rows written elsewhere, escalation ----------------------------------

    async def publish_pending(self, *, own_only: bool = False) -> None:
        """Publish rows nobody published (API state changes, a dead process's
        last rows), then mark everything published. ``own_only``: only rows
        this worker is the publisher of (partitions other than 0)."""
        if not self.db_ok:
            return
        async with self.lock:
            mine, self.to_mark = self.to_mark, []
            mono = time.monotonic()
            try:
                async with self.pool.connection(timeout=self.cfg.db_timeout_s) as conn:
                    rows = await unpublished_events(conn, publisher=self.me, fleet=not own_only)
                    waiting: dict[int, float] = {}
                    for event_id, publisher, message in rows:
                        if event_id in self.inflight or event_id in mine:
                            continue
                        if publisher is not None and publisher != self.me:
                            # Another worker's: it publishes and marks its own
                            # within its poll; still unpublished after the grace
                            # (timed here, on no one's clock), it died meanwhile.
                            seen = waiting[event_id] = self._others.get(event_id, mono)
                            if mono - seen < self.cfg.publish_grace_s:
                                continue
                        if not await self.room():
                            break
                        self.publish(message)
                        mine.append(event_id)
                    self._others = waiting
                    if mine:
                        await mark_published(conn, mine, now=self.clock.now())
                    await conn.commit()
            except DB_UNAVAILABLE as exc:
                log.debug("publishing pending rows failed: %s", exc)
                self.to_mark = mine + self.to_mark
                return
            self.inflight.difference_update(mine)

    async def escalate_due(self) -> int:
        """Page again every critical alert nobody acknowledged in escalate_after_s."""
        if not self.db_ok:
            return 0
        now = self.clock.now()
        before = now.timestamp() - self.cfg.escalate_after_s
        done = 0
        try:
            async with self.pool.connection(timeout=self.cfg.db_timeout_s) as conn:
                ids = await store.due_escalations(
                    conn, before=datetime.fromtimestamp(before, tz=now.tzinfo)
                )
                await conn.commit()
                for alert_id in ids:
                    if not await self.room():
                        break  # the broker is behind: the rest on the next round
                    if await page_again(
                        self, partial(store.escalate, conn, alert_id, now=now, worker=self.me)
                    ):
                        done += 1
        except DB_UNAVAILABLE as exc:
            log.debug("escalation sweep failed: %s", exc)
        return done


def _key(op: Op | BulkTurn) -> str | None:
    if isinstance(op, Raise | Record):
        return op.draft.condition_key
    if isinstance(op, Close):
        return op.condition_key
    return None
