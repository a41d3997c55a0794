-- Hazards and self-checks (CONTRACT.md v1.1 "Inspections, hazards,
-- self-checks"), and the `use_unit` role that writes them.
ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_role_check
    CHECK (role IN ('admin', 'dispatcher', 'maintenance', 'regulator', 'station', 'use_unit'));

-- A hazard found on one piece of equipment. The scope columns (district,
-- firm, use unit, owner station) are copied from the registry when it is
-- found: statistics group on them and scoped reads filter on them without a
-- join, and a hazard stays where it was found if the lift changes hands.
CREATE TABLE hazards (
    hazard_id       text PRIMARY KEY,
    equipment_type  text NOT NULL CHECK (equipment_type IN ('elevator', 'cylinder')),
    equipment_id    text NOT NULL,
    source          text NOT NULL
                    CHECK (source IN ('inspection', 'supervision', 'self_check', 'alert', 'maintenance')),
    level           text NOT NULL CHECK (level IN ('general', 'serious')),
    description     text NOT NULL,
    found_on        date NOT NULL,
    deadline        date NOT NULL,
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'rectified', 'verified')),
    district        text,
    firm_id         text,
    use_unit        text,
    station_id      text,
    inspection_id   bigint UNIQUE,      -- the conditional inspection that opened it
    self_check_id   bigint,             -- the self-check whose finding opened it
    reported_by     text,
    rectified_at    timestamptz,
    rectified_note  text,
    evidence        text,
    verified_at     timestamptz,
    verified_by     text,
    reopened_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (deadline >= found_on)
);
CREATE INDEX hazards_found ON hazards (found_on);
CREATE INDEX hazards_open_deadline ON hazards (deadline) WHERE state = 'open';
CREATE INDEX hazards_district ON hazards (district, found_on);
CREATE INDEX hazards_use_unit ON hazards (use_unit, found_on);
CREATE INDEX hazards_firm ON hazards (firm_id, found_on);
CREATE INDEX hazards_equipment ON hazards (equipment_type, equipment_id);

-- A use unit's daily, weekly or monthly self-check.
CREATE TABLE self_checks (
    self_check_id  bigserial PRIMARY KEY,
    use_unit       text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('daily', 'weekly', 'monthly')),
    done_on        date NOT NULL,
    done_by        text NOT NULL,
    equipment_ids  text[] NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX self_checks_unit ON self_checks (use_unit, kind, done_on);
CREATE INDEX self_checks_done ON self_checks (done_on);

-- Days a hazard opened by a conditional inspection has to be rectified
-- (the contract's default); one definition, used by the trigger below.
CREATE FUNCTION semon_conditional_deadline_days() RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 30;

-- The registry's scope columns of one piece of equipment, copied onto each
-- hazard found on it (by the inspection trigger and the API alike).
CREATE FUNCTION semon_hazard_scope(etype text, eid text,
                                   OUT district text, OUT firm_id text,
                                   OUT use_unit text, OUT station_id text)
LANGUAGE sql STABLE AS $$
    SELECT e.district, e.firm_id, e.use_unit, NULL::text
      FROM elevators e WHERE etype = 'elevator' AND e.elevator_id = eid
    UNION ALL
    SELECT s.district, NULL, NULL, c.owner_station_id
      FROM cylinders c LEFT JOIN stations s ON s.station_id = c.owner_station_id
     WHERE etype = 'cylinder' AND c.cylinder_id = eid
$$;

-- Every `conditional` inspection opens a hazard (source `inspection`), once
-- (inspection_id is unique), whatever path wrote the inspection.
CREATE FUNCTION semon_conditional_hazards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level, description,
                         found_on, deadline, district, firm_id, use_unit, station_id,
                         inspection_id, reported_by)
    SELECT 'hz_' || md5(n.inspection_id::text || ':inspection'),
           n.equipment_type, n.equipment_id, 'inspection', 'general',
           'conditional inspection result', n.inspected_on,
           n.inspected_on + semon_conditional_deadline_days(),
           sc.district, sc.firm_id, sc.use_unit, sc.station_id, n.inspection_id, n.inspector
      FROM new_rows n
      LEFT JOIN LATERAL semon_hazard_scope(n.equipment_type, n.equipment_id) sc ON true
     WHERE n.result = 'conditional'
    ON CONFLICT (inspection_id) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER inspections_conditional_inserted AFTER INSERT ON inspections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION semon_conditional_hazards();
CREATE TRIGGER inspections_conditional_updated AFTER UPDATE ON inspections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION semon_conditional_hazards();

-- Conditional results recorded before this migration open theirs now.
INSERT INTO hazards (hazard_id, equipment_type, equipment_id, source, level, description,
                     found_on, deadline, district, firm_id, use_unit, station_id,
                     inspection_id, reported_by)
SELECT 'hz_' || md5(i.inspection_id::text || ':inspection'),
       i.equipment_type, i.equipment_id, 'inspection', 'general',
       'conditional inspection result', i.inspected_on,
       i.inspected_on + semon_conditional_deadline_days(),
       sc.district, sc.firm_id, sc.use_unit, sc.station_id, i.inspection_id, i.inspector
  FROM inspections i
  LEFT JOIN LATERAL semon_hazard_scope(i.equipment_type, i.equipment_id) sc ON true
 WHERE i.result = 'conditional'
ON CONFLICT (inspection_id) DO NOTHING;
