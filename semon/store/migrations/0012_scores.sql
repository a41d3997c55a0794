-- On-demand maintenance scores, one row per elevator, refreshed for the
-- whole fleet at once (semon/store/scores.py). The alerts process's
-- maintenance_overdue sweep reads interval_days (15 days where no row).
-- The factors are kept as parallel arrays (names in factor_names order, as
-- semon.scoring.FACTORS): writing 100,000 rows of arrays costs a fraction of
-- building as many JSON documents. The API and the view below turn them
-- into the contract's [{"name", "value", "weight", "contribution"}] list.
CREATE TABLE elevator_scores (
    elevator_id           text PRIMARY KEY,
    score                 double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    grade                 char(1) NOT NULL CHECK (grade IN ('A', 'B', 'C', 'D')),
    interval_days         integer NOT NULL CHECK (interval_days > 0),
    factor_names          text[] NOT NULL,
    factor_values         double precision[] NOT NULL,  -- NaN: unknown
    factor_weights        double precision[] NOT NULL,
    factor_contributions  double precision[] NOT NULL,
    vetoes                text[] NOT NULL DEFAULT '{}',
    computed_at           timestamptz NOT NULL
);

-- The same rows with the factors as one JSON list, for people and tools
-- reading the database directly.
CREATE VIEW elevator_score_factors AS
SELECT s.elevator_id, s.score, s.grade, s.interval_days, s.vetoes, s.computed_at,
       (SELECT jsonb_agg(jsonb_build_object(
                   'name', f.name,
                   'value', CASE WHEN f.value = 'NaN' THEN NULL
                                 WHEN f.name = 'firm_credit_grade' THEN to_jsonb(chr(65 + f.value::int))
                                 ELSE to_jsonb(f.value) END,
                   'weight', f.weight, 'contribution', f.contribution) ORDER BY f.k)
          FROM unnest(s.factor_names, s.factor_values, s.factor_weights, s.factor_contributions)
               WITH ORDINALITY AS f(name, value, weight, contribution, k)) AS factors
  FROM elevator_scores s;

-- The date an in-service piece of equipment falls due for its periodic
-- inspection (CONTRACT.md: base date plus interval; overdue when that is
-- before D). Immutable so that indexes can hold it; covering indexes by each
-- grouping key let the overdue statistics run as index-only scans (which
-- semon/store/stats.py asks for: the planner underrates the expression's
-- cost and would scan the table).
CREATE FUNCTION semon_elevator_due(last_inspected date, installed date, months smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (coalesce(last_inspected, installed) + make_interval(months => months::integer))::date;

CREATE FUNCTION semon_cylinder_due(last_inspected date, manufactured date, years smallint)
RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (coalesce(last_inspected, manufactured) + make_interval(years => years::integer))::date;

-- INCLUDE the base columns: PostgreSQL plans an index-only scan only when
-- every column the query names is in the index, even if the expression is.
CREATE INDEX elevators_due_district ON elevators
    (district, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, installed_on, inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX elevators_due_firm ON elevators
    (firm_id, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, installed_on, inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX elevators_due_use_unit ON elevators
    (use_unit, semon_elevator_due(last_inspected_on, installed_on, inspection_interval_months))
    INCLUDE (last_inspected_on, installed_on, inspection_interval_months)
    WHERE status = 'in_service';
CREATE INDEX cylinders_due_station ON cylinders
    (owner_station_id, semon_cylinder_due(last_inspected_on, manufactured_on, inspection_interval_years))
    INCLUDE (last_inspected_on, manufactured_on, inspection_interval_years)
    WHERE status = 'in_service';

-- Rescue statistics read trapped-passenger alerts by time window.
CREATE INDEX alerts_trapped_started ON alerts (started_at) WHERE kind = 'trapped_passenger';
