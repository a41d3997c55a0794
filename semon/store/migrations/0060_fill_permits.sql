-- Fill permits: every answer the platform gave a station before a fill
-- (GET /cylinders/{id}/fill-permit), kept for the trace and for
-- filled_after_deny. `allow` is NULL for "unknown, try again" (the database
-- was too slow to judge). The index serves the alerts service's question
-- "what was this station last told about this cylinder before the fill".
CREATE TABLE fill_permits (
    permit_id    text PRIMARY KEY,
    station_id   text NOT NULL,
    cylinder_id  text NOT NULL,
    gas          text NOT NULL,
    allow        boolean,
    reasons      text[] NOT NULL DEFAULT '{}',
    asked_at     timestamptz NOT NULL,
    asked_by     text
);
CREATE INDEX fill_permits_cylinder ON fill_permits (cylinder_id, station_id, asked_at);
