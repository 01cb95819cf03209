"""Three or four accounts in one store, each with its own services (as the server's per-tenant
services will be), images pushed and scanned against advisories written here; Inspector2
handlers called directly with an `AwsContext`, each request checked against botocore's input
shape and each answer against its output shape."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.validate import ParamValidator

from dockwatch.api.aws.context import AwsContext, Principal
from dockwatch.api.aws.inspector import OPERATIONS
from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.identity import Tenant
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Layer, make_image, make_layer
from tests.builders.push import push_image
from tests.support.botocore_shapes import assert_output, service

MANAGEMENT, ADMIN, MEMBER, OUTSIDER = "111111111111", "222222222222", "333333333333", "444444444444"

ADVISORIES = {"PYSEC-9-1": ("alpha", "2.0"), "PYSEC-9-2": ("alpha", "3.0"),
              "PYSEC-9-3": ("beta", "1.5")}  # fmt: skip
"""Each advisory's package and first fixed version (every one affects version 1.0)."""
IMAGES = {
    ADMIN: {"web": "alpha"},
    MEMBER: {"api": "alpha", "tools": "beta"},
    OUTSIDER: {"site": "alpha"},
}
"""The images each account pushes (repository -> the one Python package of version 1.0)."""


def expected_findings(account: str) -> set[tuple[str, str]]:
    """(repository, vulnerability id) of every finding an account's images have, from the
    pushed packages and the advisories above."""
    return {
        (repo, vid)
        for repo, package in IMAGES.get(account, {}).items()
        for vid, (affected, _) in ADVISORIES.items()
        if affected == package
    }


def _layer(name: str, salt: str) -> Layer:
    path = f"usr/lib/python3/site-packages/{name}-1.0.dist-info/METADATA"
    return make_layer({path: f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", "s": salt})


def write_advisories(services: Services, folder: Path) -> None:
    folder.mkdir()
    for vid, (package, fixed) in ADVISORIES.items():
        record = {
            "id": vid,
            "modified": "2026-11-01T00:00:00Z",
            "affected": [{
                "package": {"ecosystem": "PyPI", "name": package},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }],
        }  # fmt: skip
        (folder / f"{vid}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


def context(services: Services) -> AwsContext:
    """The context the dispatcher builds for a request signed by the account's user."""
    tenant = services.tenant
    principal = Principal(tenant.account_id, "tester", f"AKIA{tenant.account_id}")
    return AwsContext(services, tenant, principal, request_id="test-request")


def check_request(operation: str, body: dict[str, Any]) -> None:
    """Fail when botocore would not send `body` as `operation`'s input."""
    shape = service("inspector2").operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()


async def call(
    services: Services,
    operation: str,
    body: dict[str, Any] | None = None,
    enums: Collection[str] = (),
) -> dict[str, Any]:
    """Run one operation as `services`' account; the answer checked against the model (enum
    shapes named in `enums` left open)."""
    body = body or {}
    check_request(operation, body)
    answer = await OPERATIONS[operation](context(services), dict(body))
    assert_output("inspector2", operation, answer, open_enums=enums)
    return answer


@dataclass
class Org:
    """The accounts of one store by id."""

    accounts: dict[str, Services]

    def __getitem__(self, account: str) -> Services:
        return self.accounts[account]


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    """MANAGEMENT (configured as the management account), ADMIN, MEMBER and OUTSIDER in one
    data folder; every account but MANAGEMENT has ENHANCED scanning on and its images scanned."""
    built: dict[str, Services] = {}
    try:
        for account in (MANAGEMENT, ADMIN, MEMBER, OUTSIDER):
            built[account] = build(
                Settings(data_dir=tmp_path / "data", test_mode=True, account_id=account,
                         organization_management_account=MANAGEMENT)
            )  # fmt: skip
        write_advisories(built[ADMIN], tmp_path / "osv")
        for account, images in IMAGES.items():
            services = built[account]
            services.scanner.put_scanning_configuration({"scanType": "ENHANCED", "rules": []})
            for repo, package in images.items():
                push_image(services, repo, make_image([_layer(package, account + repo)]), "v1")
            services.worker.drain()
        yield Org(built)
    finally:
        for services in built.values():
            services.close()


def tenant(account: str) -> Tenant:
    return Tenant(account, "us-east-1")
