-- Hourly per-elevator figures on plain PostgreSQL: a table filled by
-- semon_refresh_hourly(from, to), which semon.store.maintenance calls
-- periodically, behind the same `elevator_hourly` view as on TimescaleDB
-- (0007_hourly.timescale.sql, where continuous aggregates play the table's
-- part). Queries read `elevator_hourly` only. Definitions are the same:
-- trips, door_cycles and run_s are max - min of the cumulative counters in
-- the hour (the step between two hours and a counter reset are not
-- handled); faults are events other than alarm_test and power_restored.
CREATE TABLE elevator_hourly_rollup (
    bucket       timestamptz NOT NULL,
    elevator_id  text NOT NULL,
    samples      bigint NOT NULL,
    trips        bigint,
    door_cycles  bigint,
    run_s        bigint,
    faults       bigint NOT NULL,
    PRIMARY KEY (elevator_id, bucket)
);
CREATE INDEX elevator_hourly_rollup_bucket ON elevator_hourly_rollup (bucket);

-- Recomputes every hour touching [from_ts, to_ts) from the raw rows. Two
-- callers at once are serialised by the transaction-level advisory lock.
CREATE FUNCTION semon_refresh_hourly(from_ts timestamptz, to_ts timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    lo timestamptz := date_bin(INTERVAL '1 hour', from_ts, TIMESTAMPTZ '2000-01-01 00:00:00+00');
    hi timestamptz := date_bin(INTERVAL '1 hour', to_ts - INTERVAL '1 microsecond',
                               TIMESTAMPTZ '2000-01-01 00:00:00+00') + INTERVAL '1 hour';
    n integer;
BEGIN
    IF to_ts <= from_ts THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(1580859399);  -- 0x5E3A0007: hourly rollup
    DELETE FROM elevator_hourly_rollup WHERE bucket >= lo AND bucket < hi;
    INSERT INTO elevator_hourly_rollup (bucket, elevator_id, samples, trips, door_cycles, run_s, faults)
    SELECT coalesce(s.bucket, f.bucket), coalesce(s.elevator_id, f.elevator_id),
           coalesce(s.samples, 0), s.trips, s.door_cycles, s.run_s, coalesce(f.faults, 0)
    FROM (
        SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               elevator_id,
               count(*) AS samples,
               max(trips) - min(trips) AS trips,
               max(door_cycles) - min(door_cycles) AS door_cycles,
               max(run_s) - min(run_s) AS run_s
        FROM elevator_status
        WHERE ts >= lo AND ts < hi
        GROUP BY 1, 2
    ) s
    FULL JOIN (
        SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               elevator_id,
               count(*) AS faults
        FROM elevator_events
        WHERE ts >= lo AND ts < hi AND code NOT IN ('alarm_test', 'power_restored')
        GROUP BY 1, 2
    ) f ON f.bucket = s.bucket AND f.elevator_id = s.elevator_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Offline minutes come from the `alerts` rows of kind terminal_offline
-- overlapping the hour (still open: up to now()), computed at query time so
-- an alert resolved later never leaves a stale figure behind.
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
    SELECT bucket, elevator_id, samples, trips, door_cycles, run_s, faults,
           NULL::double precision AS offline_minutes
    FROM elevator_hourly_rollup
    UNION ALL
    SELECT bucket, elevator_id, NULL, NULL, NULL, NULL, NULL, offline_minutes
    FROM elevator_offline_hourly
) AS parts
GROUP BY bucket, elevator_id;
