-- The hourly roll-up on plain PostgreSQL becomes incremental (issue 20).
-- Before, every maintenance round re-aggregated every raw row of the last
-- hours (semon_refresh_hourly), so its work grew with the sample rate and
-- the minute of the round showed in ingest's latency. Now each insert into
-- elevator_status / elevator_events appends its own partial figures per
-- (elevator, hour) to elevator_hourly_delta (statement triggers with
-- transition tables: one small GROUP BY over the rows just inserted, and an
-- append only, so two writers never wait for each other), and a round folds
-- the deltas into the roll-up (semon_merge_hourly): its work is the number of
-- (elevator, hour) pieces written since the last round, late rows included.
--
-- Mergeable figures: samples and faults add up; the counters' max - min
-- needs the min and max, so the roll-up keeps them.
ALTER TABLE elevator_hourly_rollup
    ADD COLUMN trips_min bigint, ADD COLUMN trips_max bigint,
    ADD COLUMN door_cycles_min bigint, ADD COLUMN door_cycles_max bigint,
    ADD COLUMN run_s_min bigint, ADD COLUMN run_s_max bigint;

-- One row per elevator and hour in each batch (a batch of one sample per
-- car adds as many rows as it inserts), deleted by the next round.
CREATE TABLE elevator_hourly_delta (
    bucket           timestamptz NOT NULL,
    elevator_id      text NOT NULL,
    samples          bigint NOT NULL,
    trips_min        bigint,
    trips_max        bigint,
    door_cycles_min  bigint,
    door_cycles_max  bigint,
    run_s_min        bigint,
    run_s_max        bigint,
    faults           bigint NOT NULL
);
-- No index: every insert pays for one, and only a repair
-- (semon_refresh_hourly) looks deltas up by hour.

CREATE FUNCTION semon_hourly_status_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elevator_hourly_delta
    SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'), elevator_id,
           count(*), min(trips), max(trips), min(door_cycles), max(door_cycles),
           min(run_s), max(run_s), 0
    FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE FUNCTION semon_hourly_events_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO elevator_hourly_delta
    SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00'), elevator_id,
           0, NULL, NULL, NULL, NULL, NULL, NULL, count(*)
    FROM new_rows WHERE code NOT IN ('alarm_test', 'power_restored') GROUP BY 1, 2;
    RETURN NULL;
END $$;

CREATE TRIGGER elevator_status_hourly_delta AFTER INSERT ON elevator_status
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION semon_hourly_status_delta();
CREATE TRIGGER elevator_events_hourly_delta AFTER INSERT ON elevator_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION semon_hourly_events_delta();

-- Folds every committed delta into the roll-up; returns the (elevator,
-- hour) rows changed. One statement: the deltas it deletes are exactly the
-- ones it adds (a writer committing meanwhile leaves its deltas for the
-- next round).
CREATE FUNCTION semon_merge_hourly() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    n integer;
BEGIN
    PERFORM pg_advisory_xact_lock(1580859399);  -- 0x5E3A0007: hourly rollup
    WITH claimed AS (
        DELETE FROM elevator_hourly_delta RETURNING *
    ), piece AS (
        SELECT bucket, elevator_id, sum(samples) AS samples,
               min(trips_min) AS trips_min, max(trips_max) AS trips_max,
               min(door_cycles_min) AS door_cycles_min, max(door_cycles_max) AS door_cycles_max,
               min(run_s_min) AS run_s_min, max(run_s_max) AS run_s_max,
               sum(faults) AS faults
        FROM claimed GROUP BY 1, 2
    )
    INSERT INTO elevator_hourly_rollup AS r
        (bucket, elevator_id, samples, trips, door_cycles, run_s, faults,
         trips_min, trips_max, door_cycles_min, door_cycles_max, run_s_min, run_s_max)
    SELECT bucket, elevator_id, samples, trips_max - trips_min,
           door_cycles_max - door_cycles_min, run_s_max - run_s_min, faults,
           trips_min, trips_max, door_cycles_min, door_cycles_max, run_s_min, run_s_max
    FROM piece
    ORDER BY elevator_id, bucket
    ON CONFLICT (elevator_id, bucket) DO UPDATE SET
        samples = r.samples + excluded.samples,
        faults = r.faults + excluded.faults,
        trips_min = least(r.trips_min, excluded.trips_min),
        trips_max = greatest(r.trips_max, excluded.trips_max),
        door_cycles_min = least(r.door_cycles_min, excluded.door_cycles_min),
        door_cycles_max = greatest(r.door_cycles_max, excluded.door_cycles_max),
        run_s_min = least(r.run_s_min, excluded.run_s_min),
        run_s_max = greatest(r.run_s_max, excluded.run_s_max),
        trips = greatest(r.trips_max, excluded.trips_max) - least(r.trips_min, excluded.trips_min),
        door_cycles = greatest(r.door_cycles_max, excluded.door_cycles_max)
            - least(r.door_cycles_min, excluded.door_cycles_min),
        run_s = greatest(r.run_s_max, excluded.run_s_max) - least(r.run_s_min, excluded.run_s_min);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The full recomputation of [from_ts, to_ts) from the raw rows, kept for a
-- caller that wants it (a restart after a crash, a repair): it now keeps
-- the min and max too, and drops the deltas of the hours it recomputed in
-- the same statement that reads the raw rows (one snapshot: a delta is
-- either counted here or left for the next merge, never both).
CREATE OR REPLACE FUNCTION semon_refresh_hourly(from_ts timestamptz, to_ts timestamptz)
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
    -- (a data-modifying WITH runs once, whether or not the query reads it)
    WITH dropped AS (
        DELETE FROM elevator_hourly_delta WHERE bucket >= lo AND bucket < hi
    )
    INSERT INTO elevator_hourly_rollup
        (bucket, elevator_id, samples, trips, door_cycles, run_s, faults,
         trips_min, trips_max, door_cycles_min, door_cycles_max, run_s_min, run_s_max)
    SELECT coalesce(s.bucket, f.bucket), coalesce(s.elevator_id, f.elevator_id),
           coalesce(s.samples, 0), s.trips_max - s.trips_min,
           s.door_cycles_max - s.door_cycles_min, s.run_s_max - s.run_s_min,
           coalesce(f.faults, 0),
           s.trips_min, s.trips_max, s.door_cycles_min, s.door_cycles_max, s.run_s_min, s.run_s_max
    FROM (
        SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
               elevator_id,
               count(*) AS samples,
               min(trips) AS trips_min, max(trips) AS trips_max,
               min(door_cycles) AS door_cycles_min, max(door_cycles) AS door_cycles_max,
               min(run_s) AS run_s_min, max(run_s) AS run_s_max
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

-- The roll-up as it stood had no min and max: recompute the recent hours
-- (older ones keep their figures; a sample arriving for them days late
-- would count as if it were the hour's only one).
SELECT semon_refresh_hourly(now() - INTERVAL '2 days', now() + INTERVAL '1 hour');
