-- Reads of the alerts process on start (alerts/service.py, recover): the
-- fillings ingest received after its checkpoint (kept for years: without
-- this, a whole scan). The events of its recovery window are read by device
-- time, which the hypertable's own index on ts already serves.
CREATE INDEX fillings_received ON fillings (received_at);
