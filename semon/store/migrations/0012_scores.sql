-- On-demand maintenance scores, one row per elevator, refreshed for the
-- whole fleet at once (semon/store/scores.py). The alerts process's
-- maintenance_overdue sweep reads interval_days (15 days where no row).
CREATE TABLE elevator_scores (
    elevator_id    text PRIMARY KEY,
    score          double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    grade          char(1) NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    interval_days  integer NOT NULL CHECK (interval_days > 0),
    factors        jsonb NOT NULL,
    vetoes         text[] NOT NULL DEFAULT '{}',
    computed_at    timestamptz NOT NULL
);
-- Worst first, and the staleness check.
CREATE INDEX elevator_scores_worst ON elevator_scores (score, elevator_id);
CREATE INDEX elevator_scores_computed ON elevator_scores (computed_at);

-- The date an in-service piece of equipment falls due for its periodic
-- inspection (CONTRACT.md: base date plus interval; overdue when that is
-- before D). Immutable so that indexes can hold it; covering indexes by each
-- grouping key let the overdue statistics run as index-only scans.
CREATE FUNCTION semon_elevator_due(last_inspected date, installed date, months smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (coalesce(last_inspected, installed) + make_interval(months => months::integer))::date;

CREATE FUNCTION semon_cylinder_due(last_inspected date, manufactured date, years smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (coalesce(last_inspected, manufactured) + make_interval(years => years::integer))::date;

CREATE INDEX elevators_due_district ON elevators
    (district, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    WHERE status = 'in_service';
CREATE INDEX elevators_due_firm ON elevators
    (firm_id, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    WHERE status = 'in_service';
CREATE INDEX elevators_due_use_unit ON elevators
    (use_unit, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    WHERE status = 'in_service';
CREATE INDEX cylinders_due_station ON cylinders
    (owner_station_id, semon_cylinder_due(last_inspected_on, manufactured_on, inspection_interval_years))
    WHERE status = 'in_service';

-- Rescue statistics read trapped-passenger alerts by time window.
CREATE INDEX alerts_trapped_started ON alerts (started_at) WHERE kind = 'trapped_passenger';
