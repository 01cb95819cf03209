"""The findings of a tenant, as SQL: its key, which every finding sort index leads with (one
6-byte integer where the account and region strings took 23 bytes in each), and its account
and region, since two tenants may share a key (`schema/findings.py`, `TENANT_KEY_SQL`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import tenant_key

from .criteria_sql import unindexed


def of_tenants(tenants: Sequence[Tenant], *, indexed: bool = True) -> list[ColumnElement[bool]]:
    """Conditions on `tables.findings` rows: those of `tenants` (one region). With `indexed`
    false, no index may serve them (SQLite), so another condition's index drives the query."""
    if not tenants or len({x.region for x in tenants}) != 1:
        raise ValueError("the tenants of one region")
    f = t.findings
    key: ColumnElement[Any] = f.c.tenant_key
    account: ColumnElement[Any] = f.c.account_id
    region: ColumnElement[Any] = f.c.region
    if not indexed:
        key, account, region = unindexed(key), unindexed(account), unindexed(region)
    keys = sorted({tenant_key(x) for x in tenants})
    accounts = sorted({x.account_id for x in tenants})
    return [
        key == keys[0] if len(keys) == 1 else key.in_(keys),
        account == accounts[0] if len(accounts) == 1 else account.in_(accounts),
        region == tenants[0].region,
    ]


def of_tenant(tenant: Tenant, *, indexed: bool = True) -> list[ColumnElement[bool]]:
    """`of_tenants` of one tenant."""
    return of_tenants([tenant], indexed=indexed)
