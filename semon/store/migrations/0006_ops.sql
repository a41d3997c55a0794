-- Rejected messages, kept with their reason (CONTRACT.md: counted and kept).
CREATE TABLE dead_letters (
    id           bigserial PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    topic        text NOT NULL,
    payload      bytea NOT NULL,
    reason       text NOT NULL,
    detail       text NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters (received_at);
CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at);

-- API tokens, stored as SHA-256 of the secret; the secret is shown once.
CREATE TABLE api_tokens (
    token_id    text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    role        text NOT NULL CHECK (role IN ('admin', 'dispatcher', 'maintenance', 'regulator', 'station')),
    scope       text[] NOT NULL DEFAULT '{}',   -- districts, a firm_id or a station_id; empty = all
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
