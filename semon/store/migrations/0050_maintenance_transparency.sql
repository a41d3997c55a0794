-- Maintenance transparency (issue 17): a record's window, items, technicians
-- and the use unit's sign-off; and what the terminal said about the window.
-- The old minimal record (elevator, date, kind, firm) stays valid: every new
-- column may be empty, and a record without a window is never verified.
ALTER TABLE maintenance_records
    ADD COLUMN started_at    timestamptz,
    ADD COLUMN ended_at      timestamptz,
    ADD COLUMN items         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN technicians   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN signed_by     text,
    ADD COLUMN signed_at     timestamptz,
    -- terminal | no_terminal_data | contradicted; null: no window to check
    ADD COLUMN verification  text
        CHECK (verification IN ('terminal', 'no_terminal_data', 'contradicted')),
    ADD COLUMN verified_at   timestamptz,
    ADD COLUMN verification_evidence jsonb,
    ADD CONSTRAINT maintenance_records_window
        CHECK (started_at IS NULL AND ended_at IS NULL
               OR started_at IS NOT NULL AND ended_at IS NOT NULL AND ended_at >= started_at);

-- The periodic re-check reads only records the terminal has not vouched for
-- yet (terminal is final: a maintenance-mode sample cannot be un-reported).
CREATE INDEX maintenance_records_unsettled ON maintenance_records (ended_at)
    WHERE started_at IS NOT NULL AND verification IS DISTINCT FROM 'terminal';
-- Contradicted records the alerts process has yet to raise an alert for.
CREATE INDEX maintenance_records_contradicted ON maintenance_records (verified_at)
    WHERE verification = 'contradicted';
-- A firm's records over a window (scorecards, its morning list).
CREATE INDEX maintenance_records_firm ON maintenance_records (firm_id, done_on);
-- An elevator's file, newest first, paged by (done_on, record_id).
CREATE INDEX maintenance_records_file ON maintenance_records (elevator_id, done_on DESC, record_id DESC);
CREATE INDEX inspections_file ON inspections (equipment_type, equipment_id, inspected_on DESC, inspection_id DESC);
