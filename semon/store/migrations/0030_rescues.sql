-- Rescues: the 96333 work order (CONTRACT.md v1.1 "Rescues", README
-- "Dispatch: rescues"). One rescue per live trapped_passenger alert, opened in
-- the alert's own transaction; calls, tiered assignments and escalations hang
-- off it.

-- The short code posted in each car, so a caller can name the lift.
ALTER TABLE elevators ADD COLUMN rescue_code text;
CREATE UNIQUE INDEX elevators_rescue_code ON elevators (rescue_code) WHERE rescue_code IS NOT NULL;

-- Tier 2: a rescue organisation of the district.
CREATE TABLE rescue_orgs (
    org_id      text PRIMARY KEY,
    name        text NOT NULL,
    district    text NOT NULL,
    phone       text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rescue_orgs_district ON rescue_orgs (district);

CREATE TABLE rescues (
    rescue_id       text PRIMARY KEY,
    elevator_id     text NOT NULL,
    alert_id        text NOT NULL UNIQUE REFERENCES alerts (alert_id),
    source          text NOT NULL CHECK (source IN ('terminal', 'call')),
    state           text NOT NULL CHECK (state IN ('open', 'dispatched', 'on_site', 'freed', 'closed')),
    tier            smallint NOT NULL DEFAULT 1 CHECK (tier BETWEEN 1 AND 3),  -- the tier due now
    on_site_tier    smallint CHECK (on_site_tier BETWEEN 1 AND 3),            -- who reached the car
    -- scope columns copied from the registry when opened, like alerts
    district        text,
    firm_id         text,
    use_unit        text,
    location        jsonb,
    opened_at       timestamptz NOT NULL,
    dispatched_at   timestamptz,     -- the first dispatch
    on_site_at      timestamptz,
    freed_at        timestamptz,
    callback_at     timestamptz,
    callback_note   text,
    closed_at       timestamptz,
    trapped_count   integer CHECK (trapped_count >= 0),
    injured_count   integer CHECK (injured_count >= 0),
    cause_category  text CHECK (cause_category IN
                        ('external', 'human', 'door_system', 'equipment', 'power', 'unknown')),
    cause_note      text,
    cause_by        text,
    cause_at        timestamptz,
    updated_at      timestamptz NOT NULL,
    -- The next deadline: which one (`dispatch` of tier `due_tier`, or
    -- `arrival` of assignment `due_ref`) and the stored time its clock runs
    -- from. The length comes from settings when the alerts process checks it,
    -- so the deadline is computed from stored timestamps and a restart
    -- neither loses nor repeats it.
    due_kind        text CHECK (due_kind IN ('dispatch', 'arrival')),
    due_ref         integer,
    due_from        timestamptz
);
CREATE INDEX rescues_opened ON rescues (opened_at, rescue_id);
CREATE INDEX rescues_elevator_active ON rescues (elevator_id, opened_at)
    WHERE state IN ('open', 'dispatched', 'on_site');
CREATE INDEX rescues_due ON rescues (due_from) WHERE due_kind IS NOT NULL;
CREATE INDEX rescues_district_opened ON rescues (district, opened_at);
CREATE INDEX rescues_firm_opened ON rescues (firm_id, opened_at);

CREATE TABLE rescue_calls (
    call_id           bigserial PRIMARY KEY,
    rescue_id         text NOT NULL REFERENCES rescues (rescue_id),
    at                timestamptz NOT NULL,
    caller_name       text,
    caller_phone      text,
    trapped_reported  integer CHECK (trapped_reported >= 0),
    note              text,
    by                text,
    -- Idempotency-Key of the request that made it, with the request's hash and
    -- whether it opened the rescue (so a repeat answers as the first did).
    idempotency_key   text UNIQUE,
    request_hash      text,
    opened            boolean NOT NULL DEFAULT false
);
CREATE INDEX rescue_calls_rescue ON rescue_calls (rescue_id, call_id);

CREATE TABLE rescue_assignments (
    rescue_id      text NOT NULL REFERENCES rescues (rescue_id),
    seq            integer NOT NULL,       -- 1, 2, ... in dispatch order
    tier           smallint NOT NULL CHECK (tier BETWEEN 1 AND 3),
    assignee       text NOT NULL,
    phone          text NOT NULL,
    eta_min        integer CHECK (eta_min >= 0),
    dispatched_at  timestamptz NOT NULL,
    arrived_at     timestamptz,
    by             text,
    PRIMARY KEY (rescue_id, seq)
);

-- A missed deadline, recorded once: the key names the deadline (the dispatch
-- of a tier, the arrival of one assignment), so two processes, or one
-- restarted after kill -9, can never record it twice.
CREATE TABLE rescue_escalations (
    rescue_id  text NOT NULL REFERENCES rescues (rescue_id),
    reason     text NOT NULL CHECK (reason IN ('dispatch_overdue', 'arrival_overdue')),
    ref        integer NOT NULL,
    at         timestamptz NOT NULL,
    due_at     timestamptz NOT NULL,
    from_tier  smallint NOT NULL,
    to_tier    smallint NOT NULL,
    PRIMARY KEY (rescue_id, reason, ref)
);
CREATE INDEX rescue_escalations_at ON rescue_escalations (at);
