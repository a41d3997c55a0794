-- The inspections as they stood at the end of a past day D (issue 16: a
-- report for last month, or a statistics route asked `at` a past date,
-- judged the base date by inspections recorded after D). The definition is
-- 0040's (semon_inspection_base, the due functions, semon_failed_in_use);
-- only its inputs change: what the inspections said at D is what those dated
-- on or before D say. (The registry's own `last_inspected_on` is one date
-- with no history, taken as it stands, as before.)
--
-- The statistics keep their index-only scans of 0040's covering indexes,
-- whose rows carry no id: they count each row's stored state, which is the
-- state at D for every piece with no inspection dated after D. The pieces
-- with one (found by inspections_dated; few for a recent D) are recounted
-- from semon_inspections_at and the difference applied
-- (semon/store/inspections_at.py).

-- A piece's inspections as they stood at D: the two columns 0040 keeps on
-- its row (see semon_refresh_inspection_state), from the inspections dated
-- on or before D. One probe of the (equipment_type, equipment_id,
-- inspected_on) key; the key holds one inspection a day, so the latest is
-- one row.
CREATE FUNCTION semon_inspections_at(etype text, id text, at date,
                                     OUT passed date, OUT failed date)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
SELECT max(i.inspected_on) FILTER (WHERE i.result <> 'fail'),
       (array_agg(CASE WHEN i.result = 'fail' THEN i.inspected_on END
                  ORDER BY i.inspected_on DESC))[1]
  FROM inspections i
 WHERE i.equipment_type = etype AND i.equipment_id = id AND i.inspected_on <= at
$$;

-- The equipment with an inspection dated after D, found without a scan.
CREATE INDEX inspections_dated ON inspections (equipment_type, inspected_on) INCLUDE (equipment_id);
