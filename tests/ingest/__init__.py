"""Ingest tests: real broker, real PostgreSQL."""
