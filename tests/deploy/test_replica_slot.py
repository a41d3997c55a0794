"""Scaled ingest replicas get distinct, stable MQTT client ids from
`python -m semon.replica_slot` (advisory-lock slots in the database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

CHILD = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n"
    "print(os.environ['SEMON_TEST_ID'], flush=True)\n"
    "time.sleep(60)\n"
)


def start(database_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "semon.replica_slot",
            "--env",
            "SEMON_TEST_ID",
            "--prefix",
            "semon-ingest-",
            "--",
            sys.executable,
            "-c",
            CHILD,
        ],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def identity(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(15)
    assert proc.stdout is not None
    proc.stdout.close()
    return code


def test_replicas_get_distinct_ids_and_a_returning_one_gets_its_slot_back(
    database_url: str,
) -> None:
    a = start(database_url)
    try:
        assert identity(a) == "semon-ingest-1"
        b = start(database_url)
        try:
            assert identity(b) == "semon-ingest-2"
            # the stop signal reaches the command and the wrapper exits with it
            assert stop(a) == 0
            again = start(database_url)
            try:
                # the freed slot (and with it the broker session) is taken again
                assert identity(again) == "semon-ingest-1"
            finally:
                stop(again)
        finally:
            stop(b)
    finally:
        if a.poll() is None:
            stop(a)
