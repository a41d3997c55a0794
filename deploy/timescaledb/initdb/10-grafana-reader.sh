#!/bin/sh
# First start of the database only: a read-only role for Grafana's
# TimescaleDB datasource, so a dashboard (or whoever edits one) can never
# write. Tables created later by `semon db migrate` (as postgres) are readable
# through the default privileges.
set -eu
psql -v ON_ERROR_STOP=1 --username postgres --dbname semon \
     -v pw="$GRAFANA_DB_PASSWORD" <<'SQL'
CREATE ROLE grafana_reader LOGIN PASSWORD :'pw';
ALTER ROLE grafana_reader SET statement_timeout = '30s';
GRANT CONNECT ON DATABASE semon TO grafana_reader;
GRANT USAGE ON SCHEMA public TO grafana_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO grafana_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT SELECT ON TABLES TO grafana_reader;
SQL
