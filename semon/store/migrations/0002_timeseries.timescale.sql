-- Time-series on TimescaleDB: hypertables with day chunks, compressed by
-- equipment id. Retention is added after migrations from the setting.

CREATE TABLE elevator_status (
    elevator_id  text NOT NULL,
    ts           timestamptz NOT NULL,
    floor        smallint NOT NULL,
    speed        real NOT NULL,
    direction    text NOT NULL,
    door         text NOT NULL,
    door_zone    boolean NOT NULL,
    occupied     boolean,
    load_kg      real,
    mode         text NOT NULL,
    alarm        boolean NOT NULL,
    power        text NOT NULL,
    trips        bigint,
    door_cycles  bigint,
    run_s        bigint,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (elevator_id, ts)
);
SELECT create_hypertable('elevator_status', 'ts', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE elevator_status SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'elevator_id',
    timescaledb.compress_orderby = 'ts DESC'
);

CREATE TABLE elevator_events (
    elevator_id  text NOT NULL,
    ts           timestamptz NOT NULL,
    code         text NOT NULL,
    gov_code     smallint,
    detail       text,
    data         jsonb,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (elevator_id, ts, code)
);
SELECT create_hypertable('elevator_events', 'ts', chunk_time_interval => INTERVAL '7 days');
ALTER TABLE elevator_events SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'elevator_id',
    timescaledb.compress_orderby = 'ts DESC'
);

CREATE TABLE scale_samples (
    station_id    text NOT NULL,
    filling_id    text NOT NULL,
    cylinder_id   text NOT NULL,
    ts            timestamptz NOT NULL,
    net_kg        double precision NOT NULL,
    pressure_mpa  double precision,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (filling_id, ts)
);
SELECT create_hypertable('scale_samples', 'ts', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE scale_samples SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'station_id',
    timescaledb.compress_orderby = 'ts DESC'
);
