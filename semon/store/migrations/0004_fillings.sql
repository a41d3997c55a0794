-- Fillings: one row per attempt, keyed by filling_id (the contract's
-- idempotency key). A plain table on every flavour: its key has no time in
-- it, a hypertable would need one, and a city's fillings (tens of thousands
-- a day) are kept for years of traceability, not trimmed by retention.
CREATE TABLE fillings (
    filling_id     text PRIMARY KEY,
    station_id     text NOT NULL,
    cylinder_id    text NOT NULL,
    gas            text NOT NULL,
    operator_id    text NOT NULL,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz NOT NULL,
    result         text NOT NULL CHECK (result IN ('filled', 'refused')),
    net_kg         double precision NOT NULL,
    tare_kg        double precision,
    pressure_mpa   double precision,
    temperature_c  double precision,
    precheck       jsonb NOT NULL,
    postcheck      jsonb,
    received_at    timestamptz NOT NULL
);
CREATE INDEX fillings_cylinder ON fillings (cylinder_id, ended_at);
CREATE INDEX fillings_station ON fillings (station_id, ended_at);
