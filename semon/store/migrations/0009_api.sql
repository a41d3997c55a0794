-- API reads: alert lists are filtered by the principal's scope column and
-- ordered by the last change, so each scope column gets an index that serves
-- both; inspections are read per piece of equipment in date order (the
-- unique key already does), maintenance per elevator (0001 does).
CREATE INDEX IF NOT EXISTS alerts_district_updated ON alerts (district, updated_at DESC);
CREATE INDEX IF NOT EXISTS alerts_firm_updated ON alerts (firm_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS alerts_station_updated ON alerts (station_id, updated_at DESC);
CREATE INDEX IF NOT EXISTS api_tokens_live ON api_tokens (token_hash) WHERE revoked_at IS NULL;
