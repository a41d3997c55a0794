-- Alerts process recovery and delivery between partitions (alerts/service.py).

-- One row per alert partition of a fleet (topic root): the wall time up to
-- which every device message the worker received was judged and the alert
-- changes that judging made were stored. On start, samples that ingest
-- received after it (elevator_status.received_at) are judged as a late
-- backlog: what happened while the worker was down.
CREATE TABLE alerts_checkpoints (
    topic_root      text NOT NULL,
    partitions      integer NOT NULL,
    partition       integer NOT NULL,
    judged_through  timestamptz NOT NULL,
    client_id       text NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic_root, partitions, partition)
);

-- The alerts worker that publishes this row itself (its MQTT client id);
-- NULL for rows the API wrote, which partition 0 publishes. Partition 0
-- publishes another worker's row only when it stays unpublished past a grace
-- period (that worker died between commit and publish): no row twice.
ALTER TABLE alert_events ADD COLUMN publisher text;

-- Alerts of one condition over time: a filling's overfill already raised, an
-- episode already alerted when a replayed backlog finds it again.
CREATE INDEX alerts_condition_started ON alerts (condition_key, started_at);
