"""Dense tenant keys (`schema/findings.py`, `finding_tenants`): the small integer each tenant's
findings carry in `findings.tenant_key` and every finding sort index leads with.

A writer of findings asks `ensure_keys` (the tenant gets the next number on first use: INSERT
... ON CONFLICT DO NOTHING, then a read, so processes racing to add the same tenant agree on
one row); a query asks `key_of` (None: the tenant has stored no findings). Keys are cached per
engine, since a key never changes, but only once committed: a key this transaction added is not
cached until a later transaction reads it, because a rollback takes the row back and the
number could go to another tenant."""

from __future__ import annotations

from collections.abc import Iterable
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.shared_rows import add_missing

NO_KEY = 0
"""A key no tenant has (keys start at 1): a query of a tenant without findings seeks it."""

_KEYS: WeakKeyDictionary[Engine, dict[tuple[str, str], int]] = WeakKeyDictionary()
_ADDED = "finding_tenants.added"
"""`conn.info` entry: (the transaction, the tenants it added)."""


def _cache(conn: Connection) -> dict[tuple[str, str], int]:
    return _KEYS.setdefault(conn.engine, {})


def _added(conn: Connection) -> set[tuple[str, str]]:
    """The tenants the connection's current transaction added (empty outside one)."""
    mark = conn.info.get(_ADDED)
    txn = conn.get_transaction()
    if mark is None or txn is None or mark[0] is not txn:
        return set()
    added: set[tuple[str, str]] = mark[1]
    return added


def _read(conn: Connection, tenant: tuple[str, str]) -> int | None:
    ft = t.finding_tenants
    key = conn.execute(
        select(ft.c.tenant_key).where(ft.c.account_id == tenant[0], ft.c.region == tenant[1])
    ).scalar()
    return None if key is None else int(key)


def key_of(conn: Connection, tenant: Tenant) -> int | None:
    """The tenant's key, or None when it has stored no findings."""
    name = (tenant.account_id, tenant.region)
    cache = _cache(conn)
    key = cache.get(name)
    if key is None:
        key = _read(conn, name)
        if key is not None and name not in _added(conn):
            cache[name] = key
    return key


def ensure_keys(conn: Connection, tenants: Iterable[Tenant]) -> dict[Tenant, int]:
    """The key of each tenant, a new one for a tenant without (in this transaction)."""
    out: dict[Tenant, int] = {}
    for tenant in set(tenants):
        key = key_of(conn, tenant)
        if key is None:
            key = _add(conn, (tenant.account_id, tenant.region))
        out[tenant] = key
    return out


def _add(conn: Connection, name: tuple[str, str]) -> int:
    ft = t.finding_tenants
    add_missing(conn, ft, [{"account_id": name[0], "region": name[1]}], ("account_id", "region"))
    txn = conn.get_transaction()
    mark: tuple[object, set[tuple[str, str]]] | None = conn.info.get(_ADDED)
    if mark is None or mark[0] is not txn:
        mark = conn.info[_ADDED] = (txn, set())
    mark[1].add(name)
    key = _read(conn, name)
    if key is None:  # another transaction's row, not visible to this one's snapshot
        raise RuntimeError(f"no key for the tenant {name} after adding it")
    return key


def forget(conn: Connection) -> None:
    """Drop the engine's cached keys (a migration that numbered tenants itself)."""
    _KEYS.pop(conn.engine, None)
