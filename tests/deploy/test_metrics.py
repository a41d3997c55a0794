"""Metrics as the processes really export them: two ingest workers, the alerts
process and the API run as separate `semon` processes (as in
docker-compose.yml), each scraped on its own /metrics.

Checks: conventional names and units (counters `_total`, times `_seconds`,
sizes `_bytes`), no per-device labels, each process exports its own part, two
ingest workers sharing one MQTT 5 shared subscription split the stream
between them (their counters sum to what was sent), and every metric a
Grafana PromQL panel names is really exported.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from semon.mqtt import connect
from tests.support import services

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BOARDS = sorted((REPO / "dashboards" / "grafana" / "dashboards").glob("*.json"))
FORBIDDEN_LABELS = {
    "elevator_id",
    "station_id",
    "cylinder_id",
    "equipment_id",
    "filling_id",
    "operator_id",
    "alert_id",
    "topic",
    "client_id",
}
# Units other than the base ones Prometheus names for (seconds, bytes).
OFF_UNITS = re.compile(
    r"_(ms|millis|milliseconds|us|microseconds|ns|minutes?|hours?|days?|kb|mb|gb|kib|mib|"
    r"kilobytes|megabytes|percent)(_|$)"
)
TIMEISH = re.compile(r"\b(time|latency|duration|lag|age|delay|elapsed)\b", re.I)
SAMPLE_SUFFIXES = ("_bucket", "_sum", "_count", "_created", "_total", "_info")


class Proc:
    """A `semon` subprocess whose log lines are collected as they come."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_log(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in ln for ln in self.lines):
                return
            assert self.proc.poll() is None, f"{self.name} exited:\n{''.join(self.lines)[-3000:]}"
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} never logged {text!r}:\n{''.join(self.lines)[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.reader.join(5)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


def scrape(url: str, headers: dict[str, str] | None = None) -> str:
    deadline = time.monotonic() + 30
    while True:
        try:
            r = httpx.get(url, headers=headers, timeout=5)
            if r.status_code == 200:
                return r.text
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"no metrics at {url}")
        time.sleep(0.1)


def families(text: str) -> dict[str, tuple[str, str, set[str], set[str]]]:
    """name -> (type, help, sample names, label names) for every semon_ family."""
    out = {}
    for fam in text_string_to_metric_families(text):
        if not fam.name.startswith("semon_") or fam.name.endswith("_created"):
            continue  # _created: prometheus_client's creation timestamps, not ours
        samples = {s.name for s in fam.samples}
        labels = {k for s in fam.samples for k in s.labels if k not in ("le", "quantile")}
        out[fam.name] = (fam.type, fam.documentation, samples, labels)
    return out


def exported_names(text: str) -> set[str]:
    """Every sample name the exposition can carry (TYPE lines cover labelled
    metrics that have no sample yet)."""
    names: set[str] = set()
    for fam in text_string_to_metric_families(text):
        base = fam.name
        names.add(base)
        names.update(s.name for s in fam.samples)
        if fam.type == "counter":
            names.add(base + "_total")
        if fam.type in ("histogram", "summary"):
            names.update({base + "_bucket", base + "_sum", base + "_count"})
    return names


def counter_value(text: str, name: str) -> float:
    return sum(
        s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name == name
    )


@pytest.fixture
def processes(database_url: str, mqtt_url: str, topic_root: str) -> Iterator[dict[str, object]]:
    suffix = uuid.uuid4().hex[:8]
    ports = {k: services.free_port() for k in ("ingest_a", "ingest_b", "alerts", "api")}
    admin = "semon_metrics_admin_" + uuid.uuid4().hex
    base = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MQTT_URL": mqtt_url,
        "SEMON_MQTT__TOPIC_ROOT": topic_root,
        "SEMON_LOG_LEVEL": "INFO",
    }
    procs = []
    try:
        for worker in ("a", "b"):
            procs.append(
                Proc(
                    f"ingest_{worker}",
                    ["ingest"],
                    {
                        **base,
                        "SEMON_MQTT__SHARE_GROUP": f"ingest-{suffix}",
                        "SEMON_INGEST__CLIENT_ID": f"semon-ingest-{suffix}-{worker}",
                        "SEMON_INGEST__METRICS_PORT": str(ports[f"ingest_{worker}"]),
                    },
                )
            )
        procs.append(
            Proc(
                "alerts",
                ["alerts"],
                {
                    **base,
                    "SEMON_ALERTS__CLIENT_ID": f"semon-alerts-{suffix}",
                    "SEMON_ALERTS__METRICS_PORT": str(ports["alerts"]),
                },
            )
        )
        procs.append(
            Proc(
                "api",
                ["api"],
                {
                    **base,
                    "SEMON_API__PORT": str(ports["api"]),
                    "SEMON_API__BOOTSTRAP_ADMIN_TOKEN": admin,
                },
            )
        )
        yield {"procs": {p.name: p for p in procs}, "ports": ports, "admin": admin}
    finally:
        for p in procs:
            p.stop()


async def test_metrics_of_every_process(
    processes: dict[str, object], topic_root: str, mqtt_url: str
) -> None:
    procs: dict[str, Proc] = processes["procs"]  # type: ignore[assignment]
    ports: dict[str, int] = processes["ports"]  # type: ignore[assignment]
    admin = processes["admin"]
    for name in ("ingest_a", "ingest_b"):
        procs[name].wait_log("ingest subscribed")

    # a stream for the two workers to share: valid samples and rejected ones
    sent = 40
    bad = 4
    async with connect(mqtt_url, f"metrics-pub-{uuid.uuid4().hex[:8]}") as client:
        for i in range(sent - bad):
            sample = {
                "ts": datetime.now(UTC).isoformat(),
                "floor": i % 9,
                "speed": 0.0,
                "direction": "stopped",
                "door": "closed",
                "door_zone": True,
            }
            await client.wait_window(10)
            client.publish(
                f"{topic_root}/elevators/EL-metrics-{i % 5}/status",
                json.dumps(sample).encode(),
                qos=1,
            )
        for _ in range(bad):
            await client.wait_window(10)
            client.publish(f"{topic_root}/elevators/EL-metrics-0/status", b"not json", qos=1)
        await client.drain(30)

    urls = {
        "ingest_a": f"http://127.0.0.1:{ports['ingest_a']}/metrics",
        "ingest_b": f"http://127.0.0.1:{ports['ingest_b']}/metrics",
        "alerts": f"http://127.0.0.1:{ports['alerts']}/metrics",
        "api": f"http://127.0.0.1:{ports['api']}/metrics",
    }
    auth = {"Authorization": f"Bearer {admin}"}
    deadline = time.monotonic() + 30
    while True:
        texts = {k: scrape(u, auth if k == "api" else None) for k, u in urls.items()}
        got = sum(
            counter_value(texts[w], "semon_ingest_messages_received_total")
            for w in ("ingest_a", "ingest_b")
        )
        rejected = sum(
            counter_value(texts[w], "semon_ingest_messages_rejected_total")
            for w in ("ingest_a", "ingest_b")
        )
        if got >= sent and rejected >= bad:
            break
        assert time.monotonic() < deadline, f"ingest workers received {got} of {sent}"
        time.sleep(0.2)
    # one shared subscription: every message went to exactly one worker
    assert got == sent
    assert rejected == bad

    exported: set[str] = set()
    for name, text in texts.items():
        fams = families(text)
        part = "ingest" if name.startswith("ingest") else name
        assert fams, f"{name} exports no semon_ metric"
        # each process serves its own part's metrics, not another process's
        assert all(f.startswith(f"semon_{part}_") for f in fams), (
            name,
            sorted(fams),
        )
        for fam, (kind, doc, samples, labels) in fams.items():
            assert doc.strip(), f"{fam} has no help text"
            assert not OFF_UNITS.search(fam), f"{fam}: use base units (_seconds, _bytes)"
            assert not (labels & FORBIDDEN_LABELS), f"{fam} has per-device labels {labels}"
            if kind == "counter":
                assert all(s.endswith(("_total", "_created")) for s in samples), fam
            else:
                assert not fam.endswith("_total"), f"{fam}: only counters end in _total"
            if kind in ("histogram", "summary", "gauge") and TIMEISH.search(fam.replace("_", " ")):
                assert fam.endswith("_seconds"), f"{fam}: a time is measured in seconds"
        exported |= exported_names(text)

    # every metric a PromQL panel names is exported by some process
    for path in BOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target.get("expr")
                if not expr:
                    continue
                for metric in set(re.findall(r"\bsemon_[a-z0-9_]+", expr)):
                    assert metric in exported, (
                        f"{path.stem}: {panel['title']}: {metric} not exported"
                    )


def test_no_process_imports_another_parts_metrics() -> None:
    """The registry of one process holds only its part (plus the shared package):
    imported on its own, each service module registers `semon_<part>_` names only."""
    code = (
        "import importlib, sys\n"
        "from prometheus_client import REGISTRY\n"
        "importlib.import_module(sys.argv[1])\n"
        "names = {n for ns in list(REGISTRY._collector_to_names.values()) for n in ns}\n"
        "print('\\n'.join(sorted(n for n in names if n.startswith('semon_'))))\n"
    )
    for module, part in (
        ("ingest.service", "ingest"),
        ("alerts.service", "alerts"),
        ("api.app", "api"),
    ):
        out = subprocess.run(
            [sys.executable, "-c", code, module],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.split()
        assert out, module
        assert all(n.startswith(f"semon_{part}_") for n in out), (module, out)
