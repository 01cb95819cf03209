"""Migration findings/11: `findings.tenant_key` a dense key from `finding_tenants` (1, 2, ...)
written with each row, instead of a column the database computed from the account id and
region (`TENANT_KEY_SQL`: about 6 bytes in each of the ten sort index entries of a finding
for a real 12-digit account id, 1 byte for the default account; `schema/findings.py`)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

from dockwatch.storage.sql.migrations.tenant_keys import (
    add_findings_indexes,
    register_tenants,
    remake_in_seq_order_sqlite,
)


def _computed(conn: Connection) -> bool:
    """Whether `findings.tenant_key` is still a generated column."""
    for column in inspect(conn).get_columns("findings"):
        if column["name"] == "tenant_key":
            return "computed" in column
    return False


def _keyed_indexes(conn: Connection) -> list[str]:
    return [
        str(ix["name"])
        for ix in inspect(conn).get_indexes("findings")
        if "tenant_key" in ix["column_names"]
    ]


def findings_11_dense_tenant_keys(conn: Connection) -> None:
    """Every tenant with findings numbered in `finding_tenants`, then `findings.tenant_key` an
    ordinary column holding that number. SQLite makes the table again (a generated column
    cannot become an ordinary one in place), copying every row in `seq` order with its key,
    then its indexes and triggers; PostgreSQL drops the expression (the column keeps its
    values), writes the dense keys with the sort indexes dropped, and makes them again."""
    register_tenants(conn)
    if not _computed(conn):  # made from the current tables.py, or by a remake of this run
        return
    if conn.dialect.name == "sqlite":
        remake_in_seq_order_sqlite(conn)
        return
    for name in _keyed_indexes(conn):
        conn.execute(text(f"DROP INDEX {name}"))
    conn.execute(text("ALTER TABLE findings ALTER COLUMN tenant_key DROP EXPRESSION"))
    conn.execute(
        text(
            "UPDATE findings f SET tenant_key = k.tenant_key FROM finding_tenants k "
            "WHERE k.account_id = f.account_id AND k.region = f.region"
        )
    )
    conn.execute(text("ALTER TABLE findings ALTER COLUMN tenant_key SET NOT NULL"))
    add_findings_indexes(conn)
    conn.execute(text("ANALYZE findings"))
