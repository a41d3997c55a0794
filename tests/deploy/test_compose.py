"""docker-compose.yml against the Compose specification's JSON schema (Docker
cannot run here), plus the rules the schema cannot see: pinned images, health
checks and restart policies, named volumes, and no secret in the file."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ONE_SHOT = {"migrate", "broker-files"}


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def test_compose_file_matches_the_compose_spec() -> None:
    exe = shutil.which("check-jsonschema") or str(
        Path(sys.executable).with_name("check-jsonschema")
    )
    done = subprocess.run(
        [exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_images_pinned_and_services_supervised() -> None:
    services = compose()["services"]
    assert {
        "timescaledb",
        "mosquitto",
        "migrate",
        "broker-files",
        "ingest",
        "alerts",
        "api",
        "prometheus",
        "grafana",
    } <= set(services)
    assert services["timescaledb"]["image"].startswith("timescale/timescaledb-ha:pg")
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2.")
    for name, svc in services.items():
        image = svc["image"]
        if "build" not in svc:
            assert re.search(r":[\w.-]*\d", image) and not image.endswith(":latest"), name
        if name in ONE_SHOT:
            assert svc["restart"] == "no", name
            continue
        assert svc["restart"] in ("unless-stopped", "always"), name
        if "profiles" not in svc:
            assert "healthcheck" in svc, name


def test_processes_wait_for_migrations_and_ingest_scales() -> None:
    services = compose()["services"]
    for name in ("ingest", "alerts", "api"):
        deps = services[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert "container_name" not in services[name]
    ingest = services["ingest"]
    assert ingest["environment"]["SEMON_MQTT__SHARE_GROUP"] == "ingest"
    # a distinct, stable MQTT client id per replica (tests/deploy/test_replica_slot.py)
    assert ingest["entrypoint"][:3] == ["python", "-m", "semon.replica_slot"]
    assert ingest["entrypoint"][-2:] == ["semon", "ingest"]
    assert "SEMON_INGEST__CLIENT_ID" in ingest["entrypoint"]
    assert "ports" not in ingest  # replicas would fight over a host port


def test_no_secret_in_the_file_and_volumes_named() -> None:
    text = COMPOSE.read_text()
    doc = compose()
    for name, svc in doc["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:[?-][^}]*\}", str(value)), (name, key)
    # every URL with credentials takes them from the environment
    for url in re.findall(r"\w+://[^\s\"']+@", text):
        assert "${" in url, url
    for name, svc in doc["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            assert source.startswith("./") or source in doc["volumes"], (name, vol)
    assert set(doc["volumes"]) >= {
        "pgdata",
        "mosquitto_data",
        "mosquitto_auth",
        "grafana_data",
        "prometheus_data",
    }
    # the files compose mounts exist
    for svc in doc["services"].values():
        for vol in svc.get("volumes", []):
            if vol.startswith("./"):
                assert (REPO / vol.split(":")[0]).exists(), vol
    assert (REPO / "deploy" / "env.example").exists()


def test_prometheus_scrapes_every_process() -> None:
    prom = yaml.safe_load((REPO / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    assert {"semon-ingest", "semon-alerts", "semon-api"} <= set(jobs)
    assert jobs["semon-ingest"]["dns_sd_configs"][0]["names"] == ["ingest"]  # every replica
    assert jobs["semon-api"]["authorization"]["credentials_file"].startswith("/run/secrets/")
    env = compose()["services"]
    assert env["ingest"]["environment"]["SEMON_INGEST__METRICS_PORT"] == str(
        jobs["semon-ingest"]["dns_sd_configs"][0]["port"]
    )
    assert env["alerts"]["environment"]["SEMON_ALERTS__METRICS_PORT"] == str(
        jobs["semon-alerts"]["dns_sd_configs"][0]["port"]
    )
