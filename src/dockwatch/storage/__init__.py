"""Every side effect on stored state: blobs (files / S3) and metadata (SQLite / PostgreSQL)."""
