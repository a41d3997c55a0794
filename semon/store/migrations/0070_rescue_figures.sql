-- /stats/rescue over a long window (semon/store/leg_percentiles.py): every
-- rescue opened, and every trapped-passenger alert started, in the window,
-- in the order of the group key. One covering index per group key and
-- table holds the rows in that order with every column the figures read,
-- so a year of a city is read from the index alone, with no sort by key
-- (bench/rescue_bench.py). The key is compared bytewise (COLLATE "C"), as
-- the figures query groups it; short windows keep the (opened_at) and
-- (started_at) indexes.
CREATE INDEX rescues_figures_district ON rescues (district COLLATE "C", opened_at)
    INCLUDE (firm_id, dispatched_at, on_site_at, freed_at, trapped_count, injured_count,
             escalation_count, cause_category, on_site_tier, open_to_dispatch_s,
             dispatch_to_on_site_s, on_site_to_freed_s);
CREATE INDEX rescues_figures_firm ON rescues (firm_id COLLATE "C", opened_at)
    INCLUDE (district, dispatched_at, on_site_at, freed_at, trapped_count, injured_count,
             escalation_count, cause_category, on_site_tier, open_to_dispatch_s,
             dispatch_to_on_site_s, on_site_to_freed_s);
CREATE INDEX alerts_trapped_figures_district ON alerts (district COLLATE "C", started_at)
    INCLUDE (firm_id, raised_at, acknowledged_at, on_site_at, resolved_at, live, resolution)
    WHERE kind = 'trapped_passenger';
CREATE INDEX alerts_trapped_figures_firm ON alerts (firm_id COLLATE "C", started_at)
    INCLUDE (district, raised_at, acknowledged_at, on_site_at, resolved_at, live, resolution)
    WHERE kind = 'trapped_passenger';
