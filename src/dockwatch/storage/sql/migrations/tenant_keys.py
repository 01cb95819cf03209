"""Migration listing/4: the finding sort indexes led by `tenant_key`, one integer the database
computes from the account and region, instead of the two strings; on SQLite the computed sort
keys VIRTUAL instead of STORED (`schema/findings.py`)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, text
from sqlalchemy.schema import CreateTable

from dockwatch.storage.sql import finding_tenants, tables
from dockwatch.storage.sql.schema.findings import TENANT_KEY_SQL


def add_findings_indexes(conn: Connection) -> None:
    """Every index `tables.findings` declares for this dialect whose columns the table has,
    those missing (an older table gains the others from the migrations that add their
    columns)."""
    have = {c["name"] for c in inspect(conn).get_columns("findings")}
    for index in tables.findings.indexes:
        if {c.name for c in index.columns} <= have:
            index.create(conn, checkfirst=True)


DENSE_KEY_SQL = (
    "(SELECT k.tenant_key FROM finding_tenants k "
    "WHERE k.account_id = findings.account_id AND k.region = findings.region)"
)
"""A `findings` row's dense key, in a statement reading `findings` (after `register_tenants`)."""


def register_tenants(conn: Connection) -> None:
    """`finding_tenants`, made if missing, given a key for every tenant with findings that has
    none: the tenant with the most findings first, so that the largest takes the smallest key."""
    tables.finding_tenants.create(conn, checkfirst=True)
    conn.execute(
        text(
            "INSERT INTO finding_tenants (account_id, region) "
            "SELECT f.account_id, f.region FROM findings f WHERE NOT EXISTS (SELECT 1 FROM "
            "finding_tenants k WHERE k.account_id = f.account_id AND k.region = f.region) "
            "GROUP BY f.account_id, f.region ORDER BY count(*) DESC, f.account_id, f.region"
        )
    )
    finding_tenants.forget(conn)


def stored_value(column: str) -> str:
    """The SQL a copy of `findings` into a table made from `tables.py` selects for `column`:
    the dense key for `tenant_key` (the old table computes another or has none), else the
    column itself. Migrations that remake the table on SQLite copy with it."""
    return DENSE_KEY_SQL if column == "tenant_key" else column


def remake_findings_sqlite(conn: Connection, copy_rows: Callable[[str], str]) -> None:
    """SQLite changes neither a primary key, a column's kind nor adds a STORED column in place:
    the table is made again from `tables.py`, filled by the statement `copy_rows(new_table)`
    returns (selecting `stored_value` of each column: every tenant is registered first), then
    given its indexes and its triggers (whatever they are: the rollup triggers and any other)
    as they were."""
    register_tenants(conn)
    triggers = [
        r[0]
        for r in conn.execute(
            text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'findings' "
                "AND sql IS NOT NULL"
            )
        )
    ]
    ddl = str(CreateTable(tables.findings).compile(dialect=conn.dialect)).strip()
    head = "CREATE TABLE findings ("
    assert ddl.startswith(head), ddl[:40]
    conn.execute(text("CREATE TABLE findings_new (" + ddl[len(head) :]))
    conn.execute(text(copy_rows("findings_new")))
    conn.execute(text("DROP TABLE findings"))  # its indexes and triggers with it
    conn.execute(text("ALTER TABLE findings_new RENAME TO findings"))
    add_findings_indexes(conn)
    for sql in triggers:
        conn.execute(text(sql))


def remake_in_seq_order_sqlite(conn: Connection) -> None:
    """The table made again with every computed column VIRTUAL, rows copied in `seq` order
    (each keeps its `seq`)."""
    names = [c.name for c in tables.findings.columns if c.computed is None]
    columns = ", ".join(names)
    values = ", ".join(stored_value(n) for n in names)
    remake_findings_sqlite(
        conn,
        lambda into: f"INSERT INTO {into} ({columns}) SELECT {values} FROM findings ORDER BY seq",
    )


def _current_sqlite(conn: Connection) -> bool:
    """Whether the SQLite table already has `tenant_key` and no STORED column."""
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'findings'")
    ).scalar_one()
    return "tenant_key" in sql and " STORED" not in sql.upper()


def listing_4_tenant_keys(conn: Connection) -> None:
    """`findings.tenant_key`, then each sort index led by the account and region made again led
    by it: 16-21 bytes less in each of ten entries a finding. On SQLite the table is made again
    with every computed column VIRTUAL (20 bytes less a row: the indexes keep the values); on
    PostgreSQL the key is added STORED in place."""
    if conn.dialect.name == "sqlite":
        if not _current_sqlite(conn):
            remake_in_seq_order_sqlite(conn)
    elif "tenant_key" not in {c["name"] for c in inspect(conn).get_columns("findings")}:
        kind = tables.findings.c.tenant_key.type.compile(dialect=conn.dialect)
        conn.execute(
            text(
                f"ALTER TABLE findings ADD COLUMN tenant_key {kind} "
                f"GENERATED ALWAYS AS ({TENANT_KEY_SQL}) STORED"
            )
        )
    existing = {
        str(ix["name"]): list(ix["column_names"]) for ix in inspect(conn).get_indexes("findings")
    }
    keyed = {
        str(index.name)
        for index in tables.FINDING_SORT_INDEXES
        if index.table is tables.findings and list(index.columns)[0].name == "tenant_key"
    }
    for name in sorted(keyed):
        columns = existing.get(name)
        if columns and columns[0] != "tenant_key":
            conn.execute(text(f"DROP INDEX {name}"))
    for index in tables.FINDING_SORT_INDEXES:  # and the tags index, which came with them
        index.create(conn, checkfirst=True)
    add_findings_indexes(conn)
