"""simulators service."""
