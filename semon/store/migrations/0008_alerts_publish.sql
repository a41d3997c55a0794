-- Alert delivery bookkeeping (alerts process).
-- published_at: when the row's message reached MQTT. The alerts process
-- publishes every row still NULL here, so a state change written by the API
-- (or by an alerts process that died before publishing) still reaches MQTT.
ALTER TABLE alert_events ADD COLUMN published_at timestamptz;
CREATE INDEX alert_events_unpublished ON alert_events (event_id) WHERE published_at IS NULL;
-- paged_at: platform time of the last page of an open critical alert; the
-- escalation sweep pages again when nobody acknowledged it since.
ALTER TABLE alerts ADD COLUMN paged_at timestamptz;
CREATE INDEX alerts_unacked_critical ON alerts (paged_at) WHERE state = 'open' AND severity = 'critical';
