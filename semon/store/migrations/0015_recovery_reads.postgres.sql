-- Reads of the alerts process on start (alerts/service.py, recover): the
-- terminal events of its recovery window, by device time, and the fillings
-- ingest received after its checkpoint. Without them both are whole scans:
-- the events' key leads with the elevator, and fillings are kept for years.
CREATE INDEX elevator_events_ts ON elevator_events (ts);
CREATE INDEX fillings_received ON fillings (received_at);
