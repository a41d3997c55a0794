-- Time-series on plain PostgreSQL: native range partitions by day.
-- Keys as in the contract so a redelivered message is stored once.
-- Day partitions are created ahead and dropped past retention by
-- semon_ensure_partitions / semon_drop_partitions (see 0003), which the
-- maintenance loop calls with the retention setting.

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
) PARTITION BY RANGE (ts);

CREATE TABLE elevator_events (
    elevator_id  text NOT NULL,
    ts           timestamptz NOT NULL,
    code         text NOT NULL,
    gov_code     smallint,
    detail       text,
    data         jsonb,
    received_at  timestamptz NOT NULL,
    PRIMARY KEY (elevator_id, ts, code)
) PARTITION BY RANGE (ts);

CREATE TABLE scale_samples (
    station_id    text NOT NULL,
    filling_id    text NOT NULL,
    cylinder_id   text NOT NULL,
    ts            timestamptz NOT NULL,
    net_kg        double precision NOT NULL,
    pressure_mpa  double precision,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (filling_id, ts)
) PARTITION BY RANGE (ts);

-- Rows outside every day partition (a very late backlog) land here rather
-- than fail a whole batch; maintenance trims it by the retention setting.
CREATE TABLE elevator_status_default PARTITION OF elevator_status DEFAULT;
CREATE TABLE elevator_events_default PARTITION OF elevator_events DEFAULT;
CREATE TABLE scale_samples_default PARTITION OF scale_samples DEFAULT;
