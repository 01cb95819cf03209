"""Migration findings/9: on SQLite every rollup a WITHOUT ROWID table (findings/5 made the two
detail rollups so)."""

from __future__ import annotations

from sqlalchemy import Connection

from dockwatch.storage.sql import tables
from dockwatch.storage.sql.migrations.detail_joins import without_rowid


def findings_9_rollups_without_rowid(conn: Connection) -> None:
    """SQLite: the image, layer, package and title rollups as WITHOUT ROWID tables too (their
    primary key is the whole key: one b-tree instead of a table and its key's index)."""
    without_rowid(
        conn,
        (tables.finding_image_counts, tables.finding_layer_counts,
         tables.finding_package_counts, tables.finding_title_counts),
    )  # fmt: skip
