"""The contract as code: wire messages, registry records and alerts."""
