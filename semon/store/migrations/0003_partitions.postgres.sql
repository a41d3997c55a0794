-- Day partitions for the plain-PostgreSQL flavour.

CREATE FUNCTION semon_ensure_partitions(parent text, first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date := first_day;
    made integer := 0;
    part text;
BEGIN
    WHILE d <= last_day LOOP
        part := format('%s_p%s', parent, to_char(d, 'YYYYMMDD'));
        IF to_regclass(part) IS NULL THEN
            BEGIN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    part, parent, d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
                made := made + 1;
            EXCEPTION WHEN check_violation THEN
                -- The default partition already holds rows of that day (a
                -- backlog older than the partitions made ahead): leave them
                -- there rather than fail; queries see them all the same.
                RAISE NOTICE 'partition % skipped: default partition holds its rows', part;
            END;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN made;
END $$;

CREATE FUNCTION semon_drop_partitions(parent text, before_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    r record;
    dropped integer := 0;
BEGIN
    FOR r IN
        SELECT c.relname
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname = parent AND c.relname ~ '_p[0-9]{8}$'
          AND to_date(right(c.relname, 8), 'YYYYMMDD') < before_day
    LOOP
        EXECUTE format('DROP TABLE %I', r.relname);
        dropped := dropped + 1;
    END LOOP;
    EXECUTE format('DELETE FROM %I WHERE ts < %L', parent || '_default',
                   before_day::timestamp AT TIME ZONE 'UTC');
    RETURN dropped;
END $$;

SELECT semon_ensure_partitions(t, (now() AT TIME ZONE 'UTC')::date - 35, (now() AT TIME ZONE 'UTC')::date + 7)
FROM unnest(ARRAY['elevator_status', 'elevator_events', 'scale_samples']) AS t;
