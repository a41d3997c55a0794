"""Stable identities for scaled replicas: `python -m semon.replica_slot`.

`docker compose up --scale ingest=3` starts identical containers, but each
ingest worker needs an MQTT client id of its own, and the same one again after
a restart or a redeploy: Mosquitto hands a shared subscription's messages
round-robin to every member session, connected or not, so a session left
behind by a worker that came back under a new id (a container id changes on
every re-create) would keep taking its share of the stream and drop it when
it expires. So replicas lease numbered slots: the wrapper takes the lowest
free PostgreSQL advisory lock of its class (1, 2, 3 ...), exports
`<prefix><slot>` in an environment variable and runs the command. A replica
that comes back takes the slot its predecessor freed, and with it the
predecessor's broker session and everything queued there.

The lock lives as long as the wrapper's connection. If the connection drops
(a database restart) the wrapper keeps the command running and takes the same
slot again once the database answers; should another replica have taken it in
between, the command is stopped so that two workers never share a client id
for more than one check interval.

    python -m semon.replica_slot --env SEMON_INGEST__CLIENT_ID --prefix semon-ingest- \
        -- semon ingest
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from types import FrameType

import psycopg

from semon.settings import Settings

# Advisory lock class (first key) for replica slots; the second key is the slot.
LOCK_CLASS = 0x5E3A0011
CHECK_S = 5.0
CONNECT_RETRY_S = 2.0


def _connect(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            print(f"replica_slot: waiting for the database: {exc}", file=sys.stderr, flush=True)
            time.sleep(CONNECT_RETRY_S)


def _try_lock(conn: psycopg.Connection[tuple[object, ...]], slot: int) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, slot)).fetchone()
    return bool(row and row[0])


def acquire(conn: psycopg.Connection[tuple[object, ...]], max_slots: int) -> int:
    for slot in range(1, max_slots + 1):
        if _try_lock(conn, slot):
            return slot
    raise SystemExit(f"replica_slot: all {max_slots} slots are taken")


def _alive(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    try:
        conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m semon.replica_slot", description=__doc__)
    parser.add_argument("--env", required=True, help="variable that receives the identity")
    parser.add_argument("--prefix", required=True, help="identity = prefix + slot number")
    parser.add_argument("--max-slots", type=int, default=64)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given after --")
    dsn = Settings().database_url
    if not dsn:
        parser.error("DATABASE_URL is not set")

    conn = _connect(dsn)
    slot = acquire(conn, args.max_slots)
    identity = f"{args.prefix}{slot}"
    print(f"replica_slot: {args.env}={identity}", file=sys.stderr, flush=True)
    child = subprocess.Popen(command, env={**os.environ, args.env: identity})  # noqa: S603

    # PID 1 in a container: pass stop signals on and wait for the child.
    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    while True:
        try:
            return child.wait(timeout=CHECK_S)
        except subprocess.TimeoutExpired:
            pass
        if _alive(conn):
            continue
        # The lease went with the connection: take the same slot back.
        conn.close()
        conn = _connect(dsn)
        if not _try_lock(conn, slot):
            print(
                f"replica_slot: slot {slot} was taken meanwhile; stopping {identity}",
                file=sys.stderr,
                flush=True,
            )
            child.terminate()
            child.wait()
            return 1


if __name__ == "__main__":
    sys.exit(main())
