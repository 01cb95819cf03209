"""Table definitions by subsystem; `storage/sql/tables.py` names them all in one place."""
