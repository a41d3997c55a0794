"""Settings, environment first.

Built in ``main()`` or an app factory and passed down, never at import time, so
tests build their own. Every section can be set from the environment with the
``SEMON_`` prefix and ``__`` between levels (``SEMON_ALERTS__TRAPPED_OFF_LANDING_S=20``);
``DATABASE_URL`` and ``MQTT_URL`` are also read without the prefix because that
is what every deployment tool sets.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MqttSettings(BaseModel):
    topic_root: str = "se/v1"
    # Fixed client ids plus a session expiry let the broker keep QoS 1 messages
    # for a worker while it is away (a crash or a deploy); one hour covers a
    # restart and a slow deploy without letting a dead worker's queue grow forever.
    session_expiry_s: int = 3600
    keepalive_s: int = 30
    # Reconnect backoff: first retry fast (a broker restart takes ~1 s), cap at
    # 30 s so that a thousand workers do not hammer a recovering broker.
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 30.0
    # Shared subscription group for ingest workers (MQTT 5 `$share/<group>/...`).
    # Empty: a plain subscription (the embedded broker has no shared subscriptions).
    share_group: str = ""


class IngestSettings(BaseModel):
    client_id: str = "semon-ingest-1"
    # A batch is written when it holds this many rows or is this old, whichever
    # comes first: large batches make COPY efficient, the age bounds latency.
    batch_rows: int = 5000
    batch_max_age_s: float = 0.05
    queue_max_messages: int = 20000
    max_payload_bytes: int = 1_048_576
    future_tolerance_s: float = 300.0
    write_retry_max_s: float = 5.0
    metrics_port: int = 0


class AlertSettings(BaseModel):
    client_id: str = "semon-alerts-1"
    # Trapped passenger thresholds. Terminals in the field ship 20 s for both
    # (older firmware 30-45 s); we use the same so the platform agrees with the
    # terminal's own detection instead of paging later or earlier than it.
    trapped_off_landing_s: float = 20.0
    trapped_at_landing_s: float = 20.0
    # Faults that start and end within this window are recorded, not paged
    # (terminals debounce at 5 s).
    fault_debounce_s: float = 5.0
    # Terminal offline: no sample for 3 x the expected interval at rest (60 s).
    expected_interval_s: float = 60.0
    offline_factor: float = 3.0
    alarm_test_max_gap_s: float = 72 * 3600.0
    due_soon_days: int = 30
    default_maintenance_interval_days: int = 15
    # A critical alert nobody acknowledged is paged again every this many seconds.
    escalate_after_s: float = 60.0
    sweep_interval_s: float = 60.0
    tick_interval_s: float = 0.25
    metrics_port: int = 0


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    page_size_max: int = 1000
    history_max_days: int = 31
    statement_timeout_ms: int = 10_000
    # Token for the first admin; never defaulted (empty means none is made).
    bootstrap_admin_token: str = ""


class StorageSettings(BaseModel):
    # How long raw time-series are kept; TimescaleDB uses it as the retention
    # policy, plain PostgreSQL drops day partitions past it. A local standard
    # keeps cylinder trace data for at least 2 years: fillings are not
    # time-series rows and are never dropped by this.
    retention_days: int = 400
    compress_after_days: int = 7
    partitions_ahead_days: int = 7
    pool_min: int = 1
    pool_max: int = 10


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SEMON_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    database_url: str = Field(
        default="", validation_alias=AliasChoices("DATABASE_URL", "SEMON_DATABASE_URL")
    )
    mqtt_url: str = Field(default="", validation_alias=AliasChoices("MQTT_URL", "SEMON_MQTT_URL"))
    state_dir: Path = Path(".state")
    log_level: str = "INFO"

    mqtt: MqttSettings = MqttSettings()
    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    alerts: AlertSettings = AlertSettings()
    api: ApiSettings = ApiSettings()
