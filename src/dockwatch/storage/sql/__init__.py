"""Metadata in SQL through SQLAlchemy Core: SQLite (embedded) or PostgreSQL (scale-out)."""
