"""An in-process app with an access key, and requests signed by botocore's SigV4 signer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from dockwatch.accounts.keys import NewAccessKey
from dockwatch.api.app import create_app
from dockwatch.app import Services
from tests.unit.api.conftest import make_services

BASE = "http://dockwatch"


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path, regions="eu-west-1")
    yield built
    built.close()


@pytest.fixture
def key(services: Services) -> NewAccessKey:
    return services.accounts.create_access_key(services.settings.account_id, "ci")


class Signed:
    """Sends requests signed with a key, through the ASGI app."""

    def __init__(self, client: httpx.AsyncClient, key: NewAccessKey) -> None:
        self.client = client
        self.key = key

    async def send(
        self,
        method: str,
        path: str,
        *,
        service: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        region: str = "us-east-1",
    ) -> httpx.Response:
        req = AWSRequest(method=method, url=BASE + path, data=body, headers=headers or {})
        creds = Credentials(self.key.key.access_key_id, self.key.secret_access_key)
        SigV4Auth(creds, service, region).add_auth(req)
        prepared = req.prepare()
        return await self.client.request(
            method, prepared.url, headers=dict(prepared.headers), content=body
        )

    async def ecr(self, operation: str, body: bytes = b"{}", **kw: str) -> httpx.Response:
        headers = {
            "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        }
        return await self.send("POST", "/", service="ecr", body=body, headers=headers, **kw)


@pytest.fixture
async def signed(services: Services, key: NewAccessKey) -> AsyncIterator[Signed]:
    transport = httpx.ASGITransport(app=create_app(services), client=("10.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield Signed(client, key)
