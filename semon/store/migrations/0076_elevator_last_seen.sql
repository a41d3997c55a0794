-- When each elevator's terminal was last heard from: the newest status
-- sample's time, one row per elevator, kept by ingest in the batch that
-- stores the samples (semon/store/last_seen.py; an upsert that only moves
-- forward, so a late or redelivered batch never moves it back).
--
-- IoT coverage (CONTRACT.md v1.1: a terminal heard from in the 24 h before
-- `at`) reads it instead of probing every lift's samples: with the newest
-- sample at or before `at` the answer is whether it falls in the window; only
-- a lift heard from after `at` (a past `at`) is looked up in its samples.
CREATE TABLE elevator_last_seen (
    elevator_id  text PRIMARY KEY,
    ts           timestamptz NOT NULL
);

-- The samples already stored (on either flavour: a plain aggregate).
INSERT INTO elevator_last_seen (elevator_id, ts)
SELECT elevator_id, max(ts) FROM elevator_status GROUP BY elevator_id;
