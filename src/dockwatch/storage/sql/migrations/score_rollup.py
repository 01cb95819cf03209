"""Migration findings/15: `finding_image_score_counts`, findings per image, status and Inspector
score (`schema/findings.py`), filled from the findings stored and kept from then on by the
rollups' triggers (SQLite) or the count log (PostgreSQL, which logs the score already)."""

from __future__ import annotations

from sqlalchemy import Connection

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.migrations.first_seen_rollup import add_rollup


def findings_15_score_rollup(conn: Connection) -> None:
    """The table created (a database made from the current `tables.py` has it already) and
    filled again from `findings`: REPOSITORY and AWS_ECR_CONTAINER aggregations filtered by
    `inspectorScore` sum its rows."""
    add_rollup(conn, tables.finding_image_score_counts)
