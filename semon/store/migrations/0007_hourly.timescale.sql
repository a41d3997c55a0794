-- Hourly per-elevator figures on TimescaleDB: two continuous aggregates (one
-- per hypertable, since a continuous aggregate reads a single hypertable),
-- kept fresh by refresh policies, joined with offline time by the view
-- `elevator_hourly`. Plain PostgreSQL builds the same view over a table
-- (0007_hourly.postgres.sql); queries read `elevator_hourly` only.
--
-- Created WITH NO DATA because the migration runner wraps each file in a
-- transaction, where a continuous aggregate cannot be materialised; the
-- policies (and semon.store.maintenance.refresh_hourly) fill them.
-- materialized_only = false: the newest, not yet materialised hours are
-- computed from the raw rows at query time, so figures are never behind.

-- trips, door_cycles and run_s are cumulative counters on the terminal: the
-- hour's figure is max - min of the samples inside it. The step between the
-- last sample of one hour and the first of the next is not counted (a few
-- seconds' worth at the sampling rate), nor is a counter reset (a terminal
-- replaced) inside an hour, which max - min would overstate; both are
-- accepted for hourly statistics.
CREATE MATERIALIZED VIEW elevator_hourly_status
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
       elevator_id,
       count(*) AS samples,
       max(trips) - min(trips) AS trips,
       max(door_cycles) - min(door_cycles) AS door_cycles,
       max(run_s) - min(run_s) AS run_s
FROM elevator_status
GROUP BY 1, 2
WITH NO DATA;

-- Faults: every event except the periodic alarm-line test and the end of a
-- power loss (the loss itself counts).
CREATE MATERIALIZED VIEW elevator_hourly_faults
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
       elevator_id,
       count(*) AS faults
FROM elevator_events
WHERE code NOT IN ('alarm_test', 'power_restored')
GROUP BY 1, 2
WITH NO DATA;

-- Materialise from 3 days back up to the last complete hour every 15
-- minutes; late rows older than that are picked up by the invalidation log
-- on the next refresh that covers them (refresh_hourly on demand).
SELECT add_continuous_aggregate_policy('elevator_hourly_status',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');
SELECT add_continuous_aggregate_policy('elevator_hourly_faults',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes');

-- Offline minutes come from the `alerts` rows of kind terminal_offline
-- overlapping the hour (started_at .. ended_at, still open: up to now()),
-- not from gaps between samples: the alert is the platform's one judgement
-- of "offline" (3 x the expected interval) and hours with no sample at all
-- still get a row here. Same definition on both flavours.
CREATE VIEW elevator_offline_hourly AS
SELECT h AS bucket,
       a.equipment_id AS elevator_id,
       least(60.0, sum(extract(epoch FROM
           least(coalesce(a.ended_at, now()), h + INTERVAL '1 hour') - greatest(a.started_at, h)) / 60.0)
       )::double precision AS offline_minutes
FROM alerts a
CROSS JOIN LATERAL generate_series(
    date_bin(INTERVAL '1 hour', a.started_at, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
    coalesce(a.ended_at, now()),
    INTERVAL '1 hour') AS h
WHERE a.kind = 'terminal_offline'
  AND a.equipment_type = 'elevator'
  AND h < coalesce(a.ended_at, now())
GROUP BY 1, 2;

-- UNION ALL then GROUP BY rather than FULL JOINs: a filter on bucket or
-- elevator_id (grouping columns) is pushed down into every branch, so a
-- query for a few hours reads those hours only. Each source has at most one
-- row per (bucket, elevator_id), so max() just picks it.
CREATE VIEW elevator_hourly AS
SELECT bucket,
       elevator_id,
       coalesce(max(samples), 0)::bigint AS samples,
       coalesce(max(trips), 0)::bigint AS trips,
       coalesce(max(door_cycles), 0)::bigint AS door_cycles,
       coalesce(max(run_s), 0)::bigint AS run_s,
       coalesce(max(faults), 0)::bigint AS faults,
       coalesce(max(offline_minutes), 0)::double precision AS offline_minutes
FROM (
    SELECT bucket, elevator_id, samples, trips, door_cycles, run_s,
           NULL::bigint AS faults, NULL::double precision AS offline_minutes
    FROM elevator_hourly_status
    UNION ALL
    SELECT bucket, elevator_id, NULL, NULL, NULL, NULL, faults, NULL
    FROM elevator_hourly_faults
    UNION ALL
    SELECT bucket, elevator_id, NULL, NULL, NULL, NULL, NULL, offline_minutes
    FROM elevator_offline_hourly
) AS parts
GROUP BY bucket, elevator_id;
