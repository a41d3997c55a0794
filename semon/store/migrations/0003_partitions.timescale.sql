-- TimescaleDB makes its chunks itself; nothing to create ahead.
SELECT 1;
