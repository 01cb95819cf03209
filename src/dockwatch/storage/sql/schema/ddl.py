"""DDL the two dialects spell differently, written by the schema's own compile rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Computed
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import CreateIndex, CreateTable


class VirtualOnSqlite(Computed):
    """A generated column STORED, except VIRTUAL on SQLite."""

    inherit_cache = True


@compiles(VirtualOnSqlite, "sqlite")
def _virtual_on_sqlite(element: VirtualOnSqlite, compiler: DDLCompiler, **kw: Any) -> str:
    sql = compiler.sql_compiler.process(element.sqltext, include_table=False, literal_binds=True)
    return f"GENERATED ALWAYS AS ({sql}) VIRTUAL"


PARTIAL = "where"
"""An index's `info` key for the condition of a partial index, on either dialect."""


@compiles(CreateIndex)
def _partial_index(create: CreateIndex, compiler: DDLCompiler, **kw: Any) -> str:
    """The index's `info[PARTIAL]` as its WHERE clause. SQLAlchemy's own options for it
    (`sqlite_where`, `postgresql_where`) load each dialect they name when the index is made:
    PostgreSQL's, with every one of its drivers' modules, took 20 ms of each start on SQLite."""
    sql: str = compiler.visit_create_index(create, **kw)  # type: ignore[no-untyped-call]
    where = create.element.info.get(PARTIAL)
    if where is not None:
        sql += " WHERE " + compiler.sql_compiler.process(
            where, include_table=False, literal_binds=True
        )
    return sql


WITHOUT_ROWID = "without_rowid"
"""A table's `info` key: on SQLite, a table keyed by its primary key alone (`WITHOUT ROWID`)."""


@compiles(CreateTable, "sqlite")
def _without_rowid(create: CreateTable, compiler: DDLCompiler, **kw: Any) -> str:
    """`info[WITHOUT_ROWID]` as SQLite's table option, where SQLAlchemy's `sqlite_with_rowid`
    would put it. That option loads SQLite's dialect when the table is made: 6 ms of each
    start on PostgreSQL."""
    sql: str = compiler.visit_create_table(create, **kw)  # type: ignore[no-untyped-call]
    if create.element.info.get(WITHOUT_ROWID):
        body, end = sql.rsplit("\n)", 1)
        sql = f"{body}\n)\n WITHOUT ROWID{end}"
    return sql
