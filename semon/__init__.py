"""semon: special-equipment monitoring (shared package)."""
