"""Settings, environment first.

Built in ``main()`` or an app factory and passed down, never at import time, so
tests build their own. Every section can be set from the environment with the
``SEMON_`` prefix and ``__`` between levels (``SEMON_ALERTS__TRAPPED_OFF_LANDING_S=20``);
``DATABASE_URL`` and ``MQTT_URL`` are also read without the prefix because that
is what every deployment tool sets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from semon.settings_firms import ScorecardSettings, VerificationSettings


class MqttSettings(BaseModel):
    """The broker connection every process shares (semon/mqtt): topics, the
    session kept for a worker while it is away, reconnecting."""

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
    """`semon ingest` (ingest/): batching into the database, the broker's window
    of unacknowledged messages, storage upkeep, shutdown."""

    client_id: str = "semon-ingest-1"
    # A batch is written when it holds this many rows or is this old, whichever
    # comes first: large batches make COPY efficient, the age bounds latency.
    batch_rows: int = 5000
    batch_max_age_s: float = 0.05
    max_payload_bytes: int = 2**20  # 1 MiB
    future_tolerance_s: float = 300.0
    write_retry_max_s: float = 5.0
    metrics_port: int = 0
    # Unacknowledged messages the broker may have out to us at once (MQTT 5
    # receive maximum; Mosquitto also caps it with max_inflight_messages).
    # Messages are acknowledged only after commit, so this bounds both our
    # memory during a database outage and the throughput (window / commit time).
    receive_maximum: int = 5000
    # ... and in bytes: reading from the broker pauses while the payloads not
    # yet committed add up to this, so a database outage with large messages
    # holds at most this much (plus one message) rather than receive_maximum
    # times max_payload_bytes (5 GiB). Exported as semon_ingest_pending_bytes_limit.
    max_pending_bytes: int = 64 * 2**20
    # Partition upkeep and hourly roll-ups (semon.store.maintenance); 0 = off.
    maintenance_interval_s: float = 300.0
    # On SIGTERM: how long to wait for the batch in hand to commit.
    shutdown_timeout_s: float = 8.0


class AlertSettings(BaseModel):
    """`semon alerts` (alerts/): the rules' thresholds, the engine's ticks,
    clock skew, partitions, recovery after a restart, and how long a write may
    keep a page waiting."""

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
    # The fast tick looks only at cars with a deadline running (a standing car,
    # a fault in debounce), so 50 ms costs little and keeps the time from a
    # threshold to the page well under the 250 ms goal.
    tick_interval_s: float = 0.05
    metrics_port: int = 0
    # A car on battery power standing between floors cannot move until mains
    # returns: page after the terminals' own 5 s debounce, not after 20 s.
    trapped_on_battery_s: float = 5.0
    # An alarm button press counts as "someone is inside" (where no occupancy
    # sensor is fitted) for this long around it.
    alarm_memory_s: float = 120.0
    # Samples older than this on arrival are a late backlog: they are judged
    # once the upload has been quiet for backlog_quiet_s (transport time), so
    # an episode that began and ended inside it is recorded, not paged. 30 s is
    # three moving-sample intervals: longer than any broker hiccup.
    backlog_after_s: float = 30.0
    backlog_quiet_s: float = 2.0
    # A standing car's trapped timer that falls due while the car's own newer
    # samples still wait in the inbox (the engine behind under overload) waits
    # for them, as they may show it released, but no longer than this: a
    # false page beats a trapped passenger left waiting behind telemetry.
    # Samples later than backlog_after_s are a late backlog anyway.
    trapped_defer_max_s: float = Field(default=30.0, ge=0.0)
    # The samples waiting to be judged hold at most this many payload bytes
    # (about twice that in memory); beyond it reading pauses and the broker
    # keeps the rest: an engine behind under sustained overload must not grow
    # without limit. 64 MiB is half a minute of 8,000 messages/s.
    inbox_max_bytes: int = Field(default=64 * 2**20, ge=2**16)
    # Terminal clocks drift (minutes, on cheap terminals without NTP). Each
    # terminal's offset (receive time minus device time of its newest sample)
    # is learned from its own recent messages and its deadlines are kept on
    # its clock: trusted once the last skew_samples messages, received over at
    # least skew_confirm_s, agree within skew_jitter_s (a live stream; a
    # backlog upload catching up does not), and taken as their smallest
    # delay. Offsets under skew_ignore_s are transport time: taken as 0.
    # skew_samples 0 turns learning off (every clock is taken as right).
    skew_samples: int = 3
    skew_confirm_s: float = 2.0
    skew_jitter_s: float = 2.0
    skew_ignore_s: float = 1.0
    # Samples kept per elevator (sorted) to re-judge shuffled input; a late
    # upload is kept whole until judged. Small on purpose: a city's cars times
    # this many objects is what the garbage collector walks (latency).
    sample_window: int = 32
    # Offline terminals and alarm tests are checked over the whole fleet this
    # often (seconds to spare on a 180 s / 72 h rule); the fast tick only
    # looks at cars with a deadline running.
    full_tick_s: float = 5.0
    # Scaling out: N alerts processes, each judging the devices whose id hashes
    # (crc32) to its partition, each with its own client_id. Partition 0 also
    # runs the fleet-wide work (sweeps, escalation, publishing API changes).
    partitions: int = 1
    partition: int = 0
    # On start, samples this far back from the checkpoint are read from the
    # database to rebuild the per-car state (a trap in progress when the
    # process died); 15 min covers any episode still worth raising.
    recovery_window_s: float = 900.0
    # How often the engine records how far it has judged (alerts_checkpoints):
    # a restart re-judges at most this plus the margin, so cheap and short.
    checkpoint_interval_s: float = 1.0
    # Samples ingest received up to this long before the checkpoint are judged
    # again on start: ingest and alerts receive a message at slightly
    # different times (delivery skew, a busy loop, clocks of two hosts).
    # Re-judging is idempotent; missing a sample is not.
    checkpoint_margin_s: float = 5.0
    # The longest outage judged as a backlog on start; samples older than
    # this are not read (an hour of a city's samples is seconds to judge).
    recovery_max_backlog_s: float = 3600.0
    # A database write waits this long before the outbox takes over: trapped
    # passengers are published from memory while the database is down.
    db_timeout_s: float = 0.5
    # A live trapped-passenger page waits this long for its row to be stored;
    # then it goes out from memory and the row follows, as when the database
    # is down. A database slowed by a checkpoint or a flood of writes must not
    # hold a page past the 250 ms goal (detection and delivery take ~20 ms).
    page_store_wait_s: float = 0.1
    # A write that has not finished in this long counts as the database being
    # down (the outbox takes over): a server that stopped answering without
    # closing the connection must not stall every alert behind one write.
    db_write_timeout_s: float = 5.0
    # How often rows the API wrote (alert_events.published_at IS NULL) are
    # looked for and published to MQTT: a partial-index probe, cheap at 5 Hz,
    # and a console's ack reaches the other consoles within this.
    publish_poll_s: float = 0.2
    # Partition 0 publishes another worker's unpublished row only once it has
    # seen it unpublished this long: that worker publishes and marks its own
    # within a poll, so a row left longer means it died in between.
    publish_grace_s: float = 10.0
    registry_refresh_s: float = 60.0
    # Long-lived per-car state is moved out of the garbage collector's reach
    # this often (alerts/engine.py): a full collection over a city's
    # cars stops the engine for a second. Cyclic garbage frozen by mistake is
    # never collected, so not too often either.
    gc_freeze_interval_s: float = 30.0
    # A registry read in the judging path (a filling's cylinder) waits this
    # long for a connection before the cache answers; the engine waits with it.
    registry_timeout_s: float = 1.0
    # Cylinders kept in memory to judge fillings while the database is down
    # (a few hundred bytes each; a city's stations fill fewer a week).
    cylinder_cache_max: int = 50_000


class ApiSettings(BaseModel):
    """`semon api` (api/): where it listens, page sizes and history windows,
    the alert streams' pacing, request limits."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    page_size_max: int = Field(default=1000, ge=1)
    history_max_days: int = Field(default=31, ge=1)
    statement_timeout_ms: int = 10_000
    # How long a request waits for a pooled connection before answering 503.
    pool_timeout_s: float = 5.0
    # A read whose answer has not started by then answers 503 (api/deadline.py):
    # a database that stops answering at all is not bounded by the statement
    # timeout. 0 turns it off.
    request_deadline_s: float = Field(default=20.0, ge=0)
    # Cursor page sizes: the default when a client asks for none, and the cap.
    page_size_default: int = Field(default=100, ge=1)
    # History windows longer than this are downsampled with date_bin to at
    # most `history_max_points` buckets; shorter ones return raw samples.
    history_raw_max_s: int = 6 * 3600
    history_max_points: int = Field(default=2000, ge=1)
    # Alert streams: poll the store this often even without a NOTIFY (a lost
    # notification only delays an event), and ping idle clients so proxies
    # keep the connection open.
    stream_poll_s: float = 1.0
    stream_ping_s: float = 15.0
    # Streams read and send their events a batch (stream_batch) per turn, and
    # only stream_turns streams have a turn at once: 100 consoles resuming
    # with ?after=0 then take turns instead of taking every pooled connection
    # and the whole event loop, and an ack, the alert list and /healthz are
    # served meanwhile. A turn ends after its batch or stream_turn_s (a slow
    # client finishes its batch without holding one).
    stream_turns: int = Field(default=2, ge=1)
    stream_turn_s: float = Field(default=0.25, gt=0)
    stream_batch: int = Field(default=200, ge=1, le=5000)
    # Token for the first admin; never defaulted (empty means none is made).
    bootstrap_admin_token: str = ""
    # Largest request body read (413 past it): a registry batch of 10,000
    # records is a few MB; nothing else comes near.
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)


class StorageSettings(BaseModel):
    """The database (semon/store): retention, compression, partitions ahead,
    the schema's flavour, the connection pool."""

    # How long raw time-series are kept; TimescaleDB uses it as the retention
    # policy, plain PostgreSQL drops day partitions past it. A local standard
    # keeps cylinder trace data for at least 2 years: fillings are not
    # time-series rows and are never dropped by this.
    retention_days: int = 400
    compress_after_days: int = 7
    partitions_ahead_days: int = 7
    # The schema's flavour at the first migration (kept after): "auto" takes
    # TimescaleDB where the server offers it and stops when it offers it but
    # cannot create it (not preloaded); "postgres" builds plain PostgreSQL
    # anyway; "timescale" refuses a server without it.
    flavour: Literal["auto", "timescale", "postgres"] = "auto"
    pool_min: int = 1
    pool_max: int = 10


class ScoreSettings(BaseModel):
    """On-demand maintenance scoring (semon/scoring.py documents the sheet).

    Each weight is the most points its factor can deduct from 100; they sum to
    100 so a score is exactly 100 plus its contributions.
    """

    weight_age: float = 15.0
    weight_firm_tech: float = 15.0
    weight_use_unit: float = 10.0
    weight_firm_credit: float = 15.0
    weight_faults: float = 10.0
    weight_traps: float = 10.0
    weight_trap_minutes: float = 5.0
    weight_offline: float = 5.0
    weight_door_load: float = 5.0
    weight_inspection_overdue: float = 10.0
    # Share of the age weight deducted in each band (< 5, 5-14, 15-19, >= 20 years).
    age_band_shares: tuple[float, float, float, float] = (0.0, 0.3, 0.65, 1.0)
    # Full deduction at or beyond these levels; linear below.
    faults_per_1000_trips_full: float = 5.0
    traps_full: float = 3.0
    trap_minutes_full: float = 120.0
    offline_share_full: float = 0.2
    door_cycles_per_day_free: float = 300.0
    door_cycles_per_day_full: float = 1500.0
    # Terminal-observed factors look back this far (traps: 12 months).
    activity_window_days: int = 30
    # Trips and door cycles come from this many recent hours of the hourly
    # figures (rows = elevators x hours: 48 keeps a 100,000-lift fleet's
    # refresh within seconds); trips are scaled up to the activity window.
    load_window_hours: int = 48
    trap_window_days: int = 365
    # Vetoes force the regulatory default interval.
    veto_no_data_days: float = 3.0
    veto_trap_window_days: int = 90
    grade_min_scores: tuple[float, float, float] = (85.0, 70.0, 55.0)  # A, B, C; below: D
    grade_intervals_days: tuple[int, int, int, int] = (90, 60, 30, 15)  # A, B, C, D
    default_interval_days: int = 15
    # The API recomputes the fleet when the stored scores are older than this.
    stale_after_s: float = 3600.0


class BrokerSettings(BaseModel):
    """Mosquitto credentials written by `semon broker files` (semon/broker_files.py).

    Device passwords are derived, not stored: HMAC-SHA256(device_secret,
    "<kind>.<id>"), so the registry needs no password column and a terminal's
    password can be reissued from its id alone. Never defaulted; empty refuses.
    """

    device_secret: str = ""
    # Service users; a user whose password is empty is left out of the files.
    ingest_password: str = ""
    alerts_password: str = ""
    api_password: str = ""
    simulator_password: str = ""
    # PBKDF2 rounds in the password file. Mosquitto hashes at every CONNECT and
    # after a broker restart every terminal reconnects at once: at 1000 rounds
    # (~1.1 ms each) a million terminals cost the broker ~18 CPU-minutes, at
    # 101 (mosquitto_passwd's own default) under two. Rounds slow down guessing
    # a weak password; these are 192-bit HMAC outputs nobody can guess.
    pbkdf2_iterations: int = 101


class EmbeddedSettings(BaseModel):
    # Used by `semon up` only when DATABASE_URL / MQTT_URL are unset. Fixed
    # ports keep the printed URLs the same from one run to the next; when one
    # is taken `semon up` falls back to a free port and says so.
    postgres_port: int = 54329
    broker_port: int = 18830
    # Where the embedded broker listens. Loopback by default; another address
    # (0.0.0.0 for every interface) lets real terminals in and needs
    # broker.device_secret: clients then log in (semon/broker_auth.py).
    broker_host: str = "127.0.0.1"
    database: str = "semon"


class I18nSettings(BaseModel):
    """The language and time zone people are spoken to in (semon/i18n).

    `language` is used where no request says otherwise (MQTT alert messages,
    the CLI); a request's Accept-Language wins where there is one. Times shown
    to people are in `timezone`; JSON always carries RFC 3339 UTC.
    """

    language: Literal["zh-CN", "en"] = "zh-CN"
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)"
            ) from None
        return value


class RecordDateSettings(BaseModel):
    """Dates of things that happened (installed, manufactured, inspected,
    maintained): one after today is refused. A day's tolerance: a record's
    local date runs up to a day ahead of UTC's."""

    future_tolerance_days: int = Field(default=1, ge=0, le=31)

    def latest(self) -> date:
        """The latest date a record of something done may carry today."""
        return datetime.now(UTC).date() + timedelta(days=self.future_tolerance_days)


class PermitSettings(BaseModel):
    """Fill permits (api/routes/permits.py) and filled_after_deny (alerts).

    A permit is answered within `deadline_s` or answered "unknown, try again"
    (503, Retry-After: `retry_after_s`): a station waiting at the valve is
    better told to retry than kept waiting or told yes without a check.
    Answers are kept by a batched writer every `flush_interval_s` (at most
    `buffer_max` held while the database is away; beyond that the oldest are
    dropped and counted). A filling whose cylinder the station was refused
    within `deny_window_s` before it raises filled_after_deny.
    """

    deadline_s: float = 0.3
    retry_after_s: int = 1
    # The permits' own pool: autocommit and unchecked, one round trip a permit.
    pool_max: int = Field(default=10, ge=1)
    # A lookup abandoned at the deadline ends on the server by this at most.
    statement_timeout_ms: int = 2000
    flush_interval_s: float = 0.05
    buffer_max: int = 100_000
    deny_window_s: float = 3600.0


class RescueSettings(BaseModel):
    """Rescue deadlines (README "Dispatch: rescues"): dispatched within 5 min
    of opening (Guangzhou's 96333 and the 2024 Hangzhou draft), the rescuers on
    site within 15 min of a dispatch (the Hangzhou draft's urban figure); a
    missed one is escalated once and, for arrival, makes the next tier due."""

    dispatch_deadline_s: float = 300.0
    arrival_deadline_s: float = 900.0


class RegulatorSettings(BaseModel):
    """The regulator's book (issue 16): hazards, self-checks, coverage."""

    # Days to rectify a hazard posted without a deadline. (A `conditional`
    # inspection's hazard gets the contract's 30 days from migration 0041.)
    hazard_deadline_days: Annotated[int, Field(ge=1, le=3650)] = 30
    # insurance_expiring is raised this many days before insured_until.
    insurance_expiring_days: Annotated[int, Field(ge=1, le=365)] = 30
    # Most hazards one GET /hazards answers.
    hazards_page: Annotated[int, Field(ge=1, le=10_000)] = 500


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
    embedded: EmbeddedSettings = EmbeddedSettings()
    score: ScoreSettings = ScoreSettings()
    broker: BrokerSettings = BrokerSettings()
    rescue: RescueSettings = RescueSettings()
    i18n: I18nSettings = I18nSettings()
    record_dates: RecordDateSettings = RecordDateSettings()
    regulator: RegulatorSettings = RegulatorSettings()
    verification: VerificationSettings = VerificationSettings()
    scorecard: ScorecardSettings = ScorecardSettings()
    permits: PermitSettings = PermitSettings()
