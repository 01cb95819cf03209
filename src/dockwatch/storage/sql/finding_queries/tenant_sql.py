"""The findings of a tenant, as SQL: its dense key (`schema/findings.py`, `finding_tenants`),
which every finding sort index leads with (1 byte or none in each entry), and its account and
region. No two tenants share a key, so the key alone selects exactly a tenant's findings; the
account and region conditions stay as a second guard (they cost nothing where the row is read
anyway), so that a key gone wrong could hide findings but never show another tenant's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection

from dockwatch.model.identity import Tenant
from dockwatch.storage.sql import finding_tenants
from dockwatch.storage.sql import tables as t

from .criteria_sql import unindexed


def of_tenants(
    conn: Connection, tenants: Sequence[Tenant], *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    """Conditions on `tables.findings` rows: those of `tenants` (one region). With `indexed`
    false, no index may serve them (SQLite), so another condition's index drives the query.
    A tenant without a key has no findings: none of its rows can match."""
    if not tenants or len({x.region for x in tenants}) != 1:
        raise ValueError("the tenants of one region")
    f = t.findings
    key: ColumnElement[Any] = f.c.tenant_key
    account: ColumnElement[Any] = f.c.account_id
    region: ColumnElement[Any] = f.c.region
    if not indexed:
        key, account, region = unindexed(key), unindexed(account), unindexed(region)
    found = {finding_tenants.key_of(conn, x) for x in tenants}
    keys = sorted({k for k in found if k is not None}) or [finding_tenants.NO_KEY]
    accounts = sorted({x.account_id for x in tenants})
    return [
        key == keys[0] if len(keys) == 1 else key.in_(keys),
        account == accounts[0] if len(accounts) == 1 else account.in_(accounts),
        region == tenants[0].region,
    ]


def of_tenant(
    conn: Connection, tenant: Tenant, *, indexed: bool = True
) -> list[ColumnElement[bool]]:
    """`of_tenants` of one tenant."""
    return of_tenants(conn, [tenant], indexed=indexed)
