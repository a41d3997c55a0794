-- When each elevator's terminal was last heard from, one row per elevator,
-- kept by ingest in the batch that stores the samples
-- (semon/store/last_seen.py): it moves only forward, and only by a step (a
-- minute) or more, so the lift's newest sample is at or after it and less
-- than a step after it; a lift reporting every second is written once a
-- minute, not in every batch.
--
-- IoT coverage (CONTRACT.md v1.1: a terminal heard from in the 24 h before
-- `at`) reads it instead of probing every lift's samples; only the lifts it
-- leaves in doubt (heard from just before the window, or after `at`) are
-- looked up in their samples (semon/store/coverage.py).
CREATE TABLE elevator_last_seen (
    elevator_id  text PRIMARY KEY,
    ts           timestamptz NOT NULL
);

-- The samples already stored (on either flavour: a plain aggregate).
INSERT INTO elevator_last_seen (elevator_id, ts)
SELECT elevator_id, max(ts) FROM elevator_status GROUP BY elevator_id;
