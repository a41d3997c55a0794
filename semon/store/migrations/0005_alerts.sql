-- Alerts and every transition. `condition_key` names the condition (kind,
-- equipment and, where it matters, the fault code or due date): one open
-- alert per condition is enforced by the partial unique index, so two
-- workers or a replay cannot open a second one.
CREATE TABLE alerts (
    alert_id         text PRIMARY KEY,
    condition_key    text NOT NULL,
    kind             text NOT NULL,
    severity         text NOT NULL,
    state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'dispatched', 'on_site', 'resolved')),
    equipment_type   text NOT NULL,
    equipment_id     text NOT NULL,
    -- scope columns copied from the registry when raised, so access checks
    -- and statistics read the alert alone
    district         text,
    firm_id          text,
    use_unit         text,
    station_id       text,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,          -- device time the condition ended
    raised_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    dispatched_at    timestamptz,
    on_site_at       timestamptz,
    resolved_at      timestamptz,
    resolution       text,
    live             boolean NOT NULL DEFAULT true,  -- false: found inside a late backlog, never paged
    escalations      integer NOT NULL DEFAULT 0,
    summary          text NOT NULL,
    details          jsonb NOT NULL DEFAULT '{}',
    location         jsonb
);
CREATE UNIQUE INDEX alerts_one_open_per_condition ON alerts (condition_key) WHERE state <> 'resolved';
CREATE INDEX alerts_equipment ON alerts (equipment_id, started_at);
CREATE INDEX alerts_kind_started ON alerts (kind, started_at);
CREATE INDEX alerts_open ON alerts (state) WHERE state <> 'resolved';
CREATE INDEX alerts_updated ON alerts (updated_at);

-- One row per published change; event_id is the SSE id. Writers take
-- pg_advisory_xact_lock(alert_events_lock_key) before inserting so ids commit
-- in order and a console resuming after id N can never miss a smaller id
-- committed later.
CREATE TABLE alert_events (
    event_id   bigserial PRIMARY KEY,
    alert_id   text NOT NULL REFERENCES alerts (alert_id),
    state      text NOT NULL,
    action     text NOT NULL,        -- raise, update, ack, dispatch, arrive, resolve, escalate
    at         timestamptz NOT NULL,
    by         text,
    note       text,
    message    jsonb NOT NULL        -- the alert as published at that moment
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, event_id);
