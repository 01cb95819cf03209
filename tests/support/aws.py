"""The AWS APIs of a real `dockwatch serve`, for boto3 and the aws CLI.

`start_aws(data)` creates an access key with the real command line (`dockwatch accounts
create-access-key`), then starts the server (`servers.start_dockwatch`) with that account as
its own and `regions` served. The `AwsEndpoint` it returns gives:

- `client("ecr")`, `client("inspector2")`: boto3 clients pointed at the server with the key
  (`endpoint_url`, `region_name`, keys; one attempt, so an error shows at once);
- `cli_env()` and `aws("ecr", "describe-registry")`: the aws CLI (PyPI `awscli`) with
  `AWS_ENDPOINT_URL`, the keys and the region in its environment, nothing read from `~/.aws`;
- `new_key(account_id, user)`: another key through the command line;
- `send_signed(method, path, service=..., body=...)`: one raw request signed by botocore's
  `SigV4Auth` (for what a generated client will not send: malformed JSON, other scopes).

Fixtures (tests/conftest.py): `aws_endpoint`, one server per test session (use names of your
own: other tests share it), and `aws_server`, a fresh one per test. Both serve account
`ACCOUNT_ID` in `REGION`, plus `OTHER_REGION`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from .cli import dockwatch
from .servers import Server, start_dockwatch

ACCOUNT_ID = "111111111111"
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
"""Served too: the same account there is another tenant, with a registry of its own."""


@dataclass(frozen=True, slots=True)
class AccessKey:
    """A key as `create-access-key` printed it."""

    account_id: str
    user_name: str
    access_key_id: str
    secret_access_key: str


def create_access_key(data: Path, account_id: str, user: str | None = None) -> AccessKey:
    """`dockwatch accounts create-access-key` (the account must exist)."""
    args = ["accounts", "create-access-key", "--data", str(data), "--account-id", account_id]
    out = dockwatch(*args, *(["--user", user] if user else []))
    assert out.returncode == 0, out.stderr
    key = json.loads(out.stdout)["AccessKey"]
    return AccessKey(account_id, key["UserName"], key["AccessKeyId"], key["SecretAccessKey"])


@dataclass
class AwsEndpoint:
    """A running dockwatch and a key of its account."""

    server: Server
    key: AccessKey
    region: str = REGION
    extra_keys: list[AccessKey] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The endpoint URL clients are given."""
        return self.server.url

    def client(self, service: str, *, key: AccessKey | None = None, **overrides: Any) -> Any:
        """A boto3 client of `service` (`ecr`, `inspector2`); `overrides` replace any of
        boto3.client's arguments (`region_name`, `aws_secret_access_key`, ...)."""
        key = key or self.key
        kwargs: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": self.region,
            "aws_access_key_id": key.access_key_id,
            "aws_secret_access_key": key.secret_access_key,
            "config": Config(retries={"max_attempts": 1, "mode": "standard"}),
        }
        kwargs.update(overrides)
        return boto3.session.Session().client(service, **kwargs)

    def cli_env(self, key: AccessKey | None = None) -> dict[str, str]:
        """The environment that points the aws CLI (and Terraform) at this server."""
        key = key or self.key
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": key.access_key_id,
            "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
        }

    def aws(
        self, *args: str, key: AccessKey | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`aws ARGS --output json` with `cli_env()` (plus `env`), captured."""
        return subprocess.run(
            [aws_cli(), *args, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **self.cli_env(key), **(env or {})},
        )

    def new_key(self, account_id: str | None = None, user: str | None = None) -> AccessKey:
        """Another access key, made with the command line while the server runs."""
        key = create_access_key(self.server.data, account_id or self.key.account_id, user)
        self.extra_keys.append(key)
        return key

    def send_signed(
        self,
        method: str,
        path: str,
        *,
        service: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        key: AccessKey | None = None,
        region: str | None = None,
    ) -> httpx.Response:
        """One request signed with SigV4 for `service` in `region` (default: the endpoint's)."""
        key = key or self.key
        req = AWSRequest(method=method, url=self.url + path, data=body, headers=headers or {})
        creds = Credentials(key.access_key_id, key.secret_access_key)
        SigV4Auth(creds, service, region or self.region).add_auth(req)
        prepared = req.prepare()
        return httpx.request(
            method, prepared.url, headers=dict(prepared.headers), content=body, timeout=60
        )

    def stop(self) -> None:
        """Stop the server."""
        self.server.stop()


def aws_cli() -> str:
    """The aws CLI installed next to this Python (the test extra's `awscli`)."""
    here = Path(sys.executable).parent / "aws"
    found = str(here) if here.exists() else shutil.which("aws")
    assert found, "the aws CLI is missing: pip install -e '.[test]'"
    return found


def start_aws(
    data: Path,
    *,
    account_id: str = ACCOUNT_ID,
    region: str = REGION,
    regions: tuple[str, ...] = (OTHER_REGION,),
    env: dict[str, str] | None = None,
) -> AwsEndpoint:
    """A dockwatch serving `account_id` in `region` (+ `regions`), with one access key."""
    settings_env = {
        "DOCKWATCH_ACCOUNT_ID": account_id,
        "DOCKWATCH_REGION": region,
        "DOCKWATCH_REGIONS": ",".join(regions),
        **(env or {}),
    }
    # the key is made before the server starts: the command creates the account at its start
    out = dockwatch("accounts", "list", "--data", str(data), env=settings_env)
    assert out.returncode == 0, out.stderr
    key = create_access_key(data, account_id)
    server = start_dockwatch(data, env=settings_env)
    return AwsEndpoint(server, key, region)
