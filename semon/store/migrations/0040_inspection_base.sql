-- The inspection base date, defined once (CONTRACT.md, corrected in v1.1):
-- the latest inspection whose result is `pass` or `conditional`, or the
-- registry's own `last_inspected_on` when that is later; where there is
-- neither, `installed_on` (elevator) or `manufactured_on` (cylinder). A
-- `fail` never renews it: equipment whose latest inspection failed is
-- `failed_in_use` while it stays in service.
--
-- `last_inspected_on` is now the registry's word alone (inspections no
-- longer move it). What the inspections say is kept beside it on each row,
-- maintained by the triggers below whatever writes the inspections table:
--   inspection_passed_on  latest pass / conditional
--   inspection_failed_on  the date of the latest inspection when it failed
-- Keeping them on the row lets the overdue statistics stay index-only scans.
ALTER TABLE elevators ADD COLUMN inspection_passed_on date, ADD COLUMN inspection_failed_on date;
ALTER TABLE cylinders ADD COLUMN inspection_passed_on date, ADD COLUMN inspection_failed_on date;

-- A registry date equal to the latest (failed) inspection's is not a renewal:
-- before this migration every fail moved last_inspected_on to its own date,
-- and those rows are still in the registry.
CREATE FUNCTION semon_inspection_base(registry_last date, passed date, failed date, origin date)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN coalesce(greatest(nullif(registry_last, failed), passed), origin);

-- Failed in use: the latest inspection failed and nothing later renewed the
-- base date (a later registry date counts as a later inspection in date).
-- The `in_service` condition is the caller's (every reader filters on it).
CREATE FUNCTION semon_failed_in_use(failed date, registry_last date)
RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN failed IS NOT NULL AND (registry_last IS NULL OR registry_last <= failed);

-- The due functions of 0012 are replaced by ones that take the inspections'
-- pass date: the old ones counted any result (their indexes go with them).
DROP INDEX elevators_due_district;
DROP INDEX elevators_due_firm;
DROP INDEX elevators_due_use_unit;
DROP INDEX cylinders_due_station;
DROP FUNCTION semon_elevator_due(date, date, smallint);
DROP FUNCTION semon_cylinder_due(date, date, smallint);

CREATE FUNCTION semon_elevator_due(registry_last date, passed date, failed date, installed date,
                                   months smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (semon_inspection_base(registry_last, passed, failed, installed)
        + make_interval(months => months::integer))::date;

CREATE FUNCTION semon_cylinder_due(registry_last date, passed date, failed date, manufactured date,
                                   years smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (semon_inspection_base(registry_last, passed, failed, manufactured)
        + make_interval(years => years::integer))::date;

-- Recompute the two columns for the named equipment from its inspections.
CREATE FUNCTION semon_refresh_inspection_state(etype text, ids text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF etype = 'elevator' THEN
        UPDATE elevators t
           SET inspection_passed_on = s.passed, inspection_failed_on = s.failed
          FROM (SELECT x.id,
                       (SELECT max(i.inspected_on) FROM inspections i
                         WHERE i.equipment_type = 'elevator' AND i.equipment_id = x.id
                           AND i.result <> 'fail') AS passed,
                       (SELECT CASE WHEN l.result = 'fail' THEN l.inspected_on END
                          FROM inspections l
                         WHERE l.equipment_type = 'elevator' AND l.equipment_id = x.id
                         ORDER BY l.inspected_on DESC LIMIT 1) AS failed
                  FROM (SELECT DISTINCT unnest(ids) AS id) x) s
         WHERE t.elevator_id = s.id
           AND (t.inspection_passed_on IS DISTINCT FROM s.passed
                OR t.inspection_failed_on IS DISTINCT FROM s.failed);
    ELSE
        UPDATE cylinders t
           SET inspection_passed_on = s.passed, inspection_failed_on = s.failed
          FROM (SELECT x.id,
                       (SELECT max(i.inspected_on) FROM inspections i
                         WHERE i.equipment_type = 'cylinder' AND i.equipment_id = x.id
                           AND i.result <> 'fail') AS passed,
                       (SELECT CASE WHEN l.result = 'fail' THEN l.inspected_on END
                          FROM inspections l
                         WHERE l.equipment_type = 'cylinder' AND l.equipment_id = x.id
                         ORDER BY l.inspected_on DESC LIMIT 1) AS failed
                  FROM (SELECT DISTINCT unnest(ids) AS id) x) s
         WHERE t.cylinder_id = s.id
           AND (t.inspection_passed_on IS DISTINCT FROM s.passed
                OR t.inspection_failed_on IS DISTINCT FROM s.failed);
    END IF;
END $$;

-- Statement triggers: a bulk import of 100,000 inspections recomputes each
-- piece of equipment once. (A trigger with transition tables takes one event.)
CREATE FUNCTION semon_inspections_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM semon_refresh_inspection_state(n.equipment_type, array_agg(n.equipment_id))
       FROM new_rows n GROUP BY n.equipment_type;
    RETURN NULL;
END $$;

CREATE FUNCTION semon_inspections_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM semon_refresh_inspection_state(o.equipment_type, array_agg(o.equipment_id))
       FROM old_rows o GROUP BY o.equipment_type;
    RETURN NULL;
END $$;

CREATE TRIGGER inspections_inserted AFTER INSERT ON inspections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION semon_inspections_new();
CREATE TRIGGER inspections_updated AFTER UPDATE ON inspections
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION semon_inspections_new();
CREATE TRIGGER inspections_deleted AFTER DELETE ON inspections
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION semon_inspections_old();

-- Equipment (re)registered after its inspections were recorded: pick them up.
CREATE FUNCTION semon_equipment_registered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'elevators' THEN
        PERFORM semon_refresh_inspection_state('elevator', array_agg(n.elevator_id))
           FROM new_rows n WHERE n.inspection_passed_on IS NULL AND n.inspection_failed_on IS NULL
         HAVING count(*) > 0;
    ELSE
        PERFORM semon_refresh_inspection_state('cylinder', array_agg(n.cylinder_id))
           FROM new_rows n WHERE n.inspection_passed_on IS NULL AND n.inspection_failed_on IS NULL
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER elevators_registered AFTER INSERT ON elevators
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION semon_equipment_registered();
CREATE TRIGGER cylinders_registered AFTER INSERT ON cylinders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION semon_equipment_registered();

-- Existing rows: fill from the inspections already recorded.
UPDATE elevators e SET inspection_passed_on = s.passed, inspection_failed_on = s.failed
  FROM (SELECT equipment_id,
               max(inspected_on) FILTER (WHERE result <> 'fail') AS passed,
               (array_agg(CASE WHEN result = 'fail' THEN inspected_on END
                          ORDER BY inspected_on DESC))[1] AS failed
          FROM inspections WHERE equipment_type = 'elevator' GROUP BY equipment_id) s
 WHERE e.elevator_id = s.equipment_id;
UPDATE cylinders c SET inspection_passed_on = s.passed, inspection_failed_on = s.failed
  FROM (SELECT equipment_id,
               max(inspected_on) FILTER (WHERE result <> 'fail') AS passed,
               (array_agg(CASE WHEN result = 'fail' THEN inspected_on END
                          ORDER BY inspected_on DESC))[1] AS failed
          FROM inspections WHERE equipment_type = 'cylinder' GROUP BY equipment_id) s
 WHERE c.cylinder_id = s.equipment_id;

-- Covering indexes by each grouping key (as 0012's), with the new inputs.
CREATE INDEX elevators_due_district ON elevators
    (district, semon_elevator_due(last_inspected_on, inspection_passed_on, inspection_failed_on,
                                 installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, inspection_passed_on, inspection_failed_on, installed_on,
             inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX elevators_due_firm ON elevators
    (firm_id, semon_elevator_due(last_inspected_on, inspection_passed_on, inspection_failed_on,
                                installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, inspection_passed_on, inspection_failed_on, installed_on,
             inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX elevators_due_use_unit ON elevators
    (use_unit, semon_elevator_due(last_inspected_on, inspection_passed_on, inspection_failed_on,
                                 installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, inspection_passed_on, inspection_failed_on, installed_on,
             inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX cylinders_due_station ON cylinders
    (owner_station_id, semon_cylinder_due(last_inspected_on, inspection_passed_on,
                                          inspection_failed_on, manufactured_on,
                                          inspection_interval_years))
    INCLUDE (last_inspected_on, inspection_passed_on, inspection_failed_on, manufactured_on,
             inspection_interval_years)
    WHERE status = 'in_service';

-- Every reader that wants the base date, due date or failed-in-use of one
-- piece of equipment reads it here (sweeps, traces, the elevator file).
CREATE VIEW inspection_state AS
SELECT 'elevator'::text AS equipment_type, e.elevator_id AS equipment_id, e.status,
       semon_inspection_base(e.last_inspected_on, e.inspection_passed_on,
                             e.inspection_failed_on, e.installed_on) AS base_on,
       semon_elevator_due(e.last_inspected_on, e.inspection_passed_on, e.inspection_failed_on,
                          e.installed_on,
                          e.inspection_interval_months) AS due_on,
       e.inspection_failed_on AS failed_on,
       (e.status = 'in_service'
        AND semon_failed_in_use(e.inspection_failed_on, e.last_inspected_on)) AS failed_in_use
  FROM elevators e
UNION ALL
SELECT 'cylinder', c.cylinder_id, c.status,
       semon_inspection_base(c.last_inspected_on, c.inspection_passed_on,
                             c.inspection_failed_on, c.manufactured_on),
       semon_cylinder_due(c.last_inspected_on, c.inspection_passed_on, c.inspection_failed_on,
                          c.manufactured_on,
                          c.inspection_interval_years),
       c.inspection_failed_on,
       (c.status = 'in_service'
        AND semon_failed_in_use(c.inspection_failed_on, c.last_inspected_on))
  FROM cylinders c;
