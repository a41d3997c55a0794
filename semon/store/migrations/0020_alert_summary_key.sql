-- Alert summaries in the reader's language. A rule stores its summary as a
-- catalog key and arguments (semon/i18n: `msg("alert.overfill.summary",
-- ...)`); the API renders them per Accept-Language, MQTT in the platform's
-- language. `summary` keeps the text in the platform's language at raise
-- time: what SQL readers and dashboards see, and what rows from before this
-- migration (no key) are shown with.
ALTER TABLE alerts ADD COLUMN summary_key text;
ALTER TABLE alerts ADD COLUMN summary_args jsonb;
