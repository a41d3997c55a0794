-- Each leg of a rescue in seconds, kept on the row by PostgreSQL itself:
-- /stats/rescue sorts these for its percentiles, and reading a stored number
-- sorts in about half the time of working it out from two timestamps per row
-- (bench/rescue_bench.py). Exact: the same values, computed once.
ALTER TABLE rescues
    ADD COLUMN open_to_dispatch_s float8
        GENERATED ALWAYS AS (extract(epoch FROM dispatched_at - opened_at)::float8) STORED,
    ADD COLUMN dispatch_to_on_site_s float8
        GENERATED ALWAYS AS (extract(epoch FROM on_site_at - dispatched_at)::float8) STORED,
    ADD COLUMN on_site_to_freed_s float8
        GENERATED ALWAYS AS (extract(epoch FROM freed_at - on_site_at)::float8) STORED;

-- How many deadlines the rescue missed (rows of rescue_escalations), counted
-- with them by the store (semon/store/rescues.py escalate_rescue), so the
-- statistics read one table in one scan.
ALTER TABLE rescues ADD COLUMN escalation_count integer NOT NULL DEFAULT 0;
UPDATE rescues r SET escalation_count = x.n
  FROM (SELECT rescue_id, count(*) AS n FROM rescue_escalations GROUP BY rescue_id) x
 WHERE x.rescue_id = r.rescue_id;
