-- Dead letters kept once, like telemetry. A QoS 1 redelivery of a rejected
-- message (ingest crashed after writing its batch, before acknowledging it)
-- is the same topic and the same bytes again; until now it was kept twice.
-- The digest is that identity: SHA-256 of the topic's UTF-8 bytes, a NUL
-- byte, then the raw payload (ingest stores no NUL in a topic, so no two
-- pairs hash the same bytes). Ingest computes it the same way in Python
-- (semon/store/telemetry.py, Rows.add_dead) and inserts with
-- ON CONFLICT (digest) DO NOTHING; the metric still counts every receipt.
ALTER TABLE dead_letters ADD COLUMN digest bytea;

UPDATE dead_letters
   SET digest = sha256(convert_to(topic, 'UTF8') || '\x00'::bytea || payload);

-- Redeliveries already kept twice: the first receipt (lowest id) stays.
DELETE FROM dead_letters d
 USING dead_letters k
 WHERE d.digest = k.digest
   AND d.id > k.id;

ALTER TABLE dead_letters ALTER COLUMN digest SET NOT NULL;
CREATE UNIQUE INDEX dead_letters_digest ON dead_letters (digest);
