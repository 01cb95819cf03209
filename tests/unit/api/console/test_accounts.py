"""The accounts page, and the tenant the console acts in for a user of another account."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.api.auth import bootstrap_user
from dockwatch.app import Services
from dockwatch.model.identity import Tenant
from dockwatch.organization.service import Organization
from tests.unit.api.conftest import client_for
from tests.unit.api.console.conftest import sign_in

pytestmark = pytest.mark.anyio

ADMIN, MEMBER, FORMER, LONER = "222222222222", "333333333333", "444444444444", "555555555555"
ADMIN_NAME = "<i>beta</i>"
"""An account name with HTML in it: the page shows it as text."""
PASSWORD = "another-s3cret"


@dataclass
class Org:
    """What the module sets up: the accounts' names and the admin account's key."""

    key_id: str
    secret: str


@pytest.fixture(scope="module")
def org(populated: Services) -> Org:
    """The default account (management) names ADMIN delegated administrator; ADMIN associates
    MEMBER and FORMER, then disassociates FORMER; LONER is in no organization. Each account
    has a user `<id>/user`."""
    default = populated.tenant
    for account_id, name in [(ADMIN, ADMIN_NAME), (MEMBER, "gamma"), (FORMER, "delta")]:
        populated.accounts.create_account(account_id, name)
    populated.accounts.create_account(LONER, "epsilon")
    key = populated.accounts.create_access_key(ADMIN, "user")
    for account_id in (ADMIN, MEMBER, FORMER, LONER):
        tenant = Tenant(account_id, default.region)
        bootstrap_user(populated.store, tenant, "user", PASSWORD, datetime.now(UTC))
    organization = Organization(
        populated.store, populated.clock, populated.settings.management_account_id
    )
    assert populated.settings.management_account_id == default.account_id
    admin = Tenant(ADMIN, default.region)
    organization.enable_delegated_admin(default, ADMIN)
    organization.associate(admin, MEMBER)
    organization.associate(admin, FORMER)
    organization.disassociate(admin, FORMER)
    return Org(key.key.access_key_id, key.secret_access_key)


@pytest.fixture
async def app_client(populated: Services, org: Org) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(populated), auth=None) as client:
        yield client


async def page_as(client: httpx.AsyncClient, account_id: str | None, path: str) -> str:
    """Sign in as `<account_id>/user` (the default account's test user when None), GET."""
    if account_id is None:
        await sign_in(client)
    else:
        await sign_in(client, f"{account_id}/user", PASSWORD)
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


def member_rows(page: str) -> list[tuple[str, str, str]]:
    """(member, its administrator, relationship status) of the members table."""
    table = page.split('id="members"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<th scope="row">(\d{12})</th><td>(\d{12})</td><td>([A-Z_]+)</td>', table)


def value(page: str, name: str) -> str:
    found = re.search(rf'data-value="{name}">([^<]*)<', page)
    assert found is not None, name
    return found.group(1)


async def test_no_session_no_accounts_page(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.get("/console/accounts")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login")


async def test_the_administrator_sees_its_members_and_keys_without_secrets(
    app_client: httpx.AsyncClient, org: Org
) -> None:
    page = await page_as(app_client, ADMIN, "/console/accounts")
    assert value(page, "account-id") == ADMIN
    assert value(page, "role") == "delegated administrator"
    assert value(page, "delegated-admin").startswith(f"{ADMIN} (ENABLED")
    assert member_rows(page) == [(MEMBER, ADMIN, "ENABLED"), (FORMER, ADMIN, "REMOVED")]
    assert org.key_id in page and "Active" in page
    assert org.secret not in page


async def test_the_account_name_with_html_is_shown_as_text(app_client: httpx.AsyncClient) -> None:
    page = await page_as(app_client, ADMIN, "/console/accounts")
    assert value(page, "account-name") == "&lt;i&gt;beta&lt;/i&gt;"
    assert ADMIN_NAME not in page


async def test_a_member_sees_only_itself(app_client: httpx.AsyncClient) -> None:
    page = await page_as(app_client, MEMBER, "/console/accounts")
    assert value(page, "account-id") == MEMBER
    assert value(page, "role") == f"member of {ADMIN}"
    assert value(page, "delegated-admin") == ADMIN
    assert member_rows(page) == [(MEMBER, ADMIN, "ENABLED")]
    assert FORMER not in page


async def test_the_management_account_sees_the_administrator_not_the_members(
    app_client: httpx.AsyncClient, populated: Services
) -> None:
    page = await page_as(app_client, None, "/console/accounts")
    assert value(page, "account-id") == populated.tenant.account_id
    assert value(page, "role") == "management account"
    assert value(page, "delegated-admin").startswith(f"{ADMIN} (ENABLED")
    assert member_rows(page) == []


async def test_an_account_outside_the_organization_sees_no_one(
    app_client: httpx.AsyncClient,
) -> None:
    page = await page_as(app_client, LONER, "/console/accounts")
    assert value(page, "role") == "not a member"
    assert value(page, "delegated-admin") == "not visible to this account"
    assert member_rows(page) == [] and ADMIN not in page


async def test_a_user_of_another_account_sees_no_data_of_the_default_account(
    populated: Services, org: Org
) -> None:
    """The default account has the `web` repository and its findings; a user of LONER signed
    in as `<id>/user` sees neither (the default account's user does, so the check can fail)."""
    marks = ['href="/console/repositories/web"', "PYSEC-9-1", "PYSEC-9-2"]
    async with client_for(create_app(populated), auth=None) as own:
        await sign_in(own)
        seen = [(await own.get(p)).text for p in ("/console/repositories", "/console/findings")]
        assert marks[0] in seen[0] and marks[1] in seen[1] and marks[2] in seen[1]
    async with client_for(create_app(populated), auth=None) as other:
        await sign_in(other, f"{LONER}/user", PASSWORD)
        for path in (
            "/console/",
            "/console/repositories",
            "/console/findings",
            "/console/coverage",
        ):
            page = (await other.get(path)).text
            assert not any(mark in page for mark in marks), path
        answer = await other.get("/console/repositories/web/images/v1")
        assert answer.status_code == 404
