"""Shared fixtures: real servers on loopback.

The suite runs under pytest-xdist (`make unit` runs `pytest -n 2 --dist loadgroup`; set
PYTEST_WORKERS=0 for one process). Every test must be safe beside others in another worker:
bind port 0 (`tests.support.servers.free_port`), write only under `tmp_path`/`tmp_path_factory`,
change the environment only through `monkeypatch`. A session fixture runs once per worker: an
expensive shared input (the image corpus) is built before pytest by `make`, not by a fixture.
A test that must not overlap another (it fills a shared resource, or needs the machine to
itself) carries `@pytest.mark.xdist_group("NAME")`: every test of one group runs in the same
worker, one after the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from tests.support.aws import AwsEndpoint, start_aws
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from tests.support.s3 import S3Server, start_s3
from tests.support.servers import Server, start_distribution, start_dockwatch

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.support.browser import ChromiumProcess

# No timed assertions: property tests judge results, never how fast examples are made or run
# (a loaded CI machine would otherwise fail them at random).
settings.register_profile(
    "untimed",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)
settings.load_profile("untimed")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The API contract run (tests/e2e/test_api_contract.py): `--contract-examples N` test cases
    per operation and `--contract-seconds T` for the whole run (raise both for a longer run);
    `--contract-seed S` its seed (fixed by default, so a run is repeatable)."""
    parser.addoption("--contract-examples", type=int, default=5)
    parser.addoption("--contract-seconds", type=int, default=90)
    parser.addoption("--contract-seed", type=int, default=1)


@pytest.fixture
def dockwatch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A fresh dockwatch server (auth on, test mode) for one test: on SQLite in its data
    folder, or (indirect parameter `postgresql`) on a fresh database of the session's
    PostgreSQL cluster."""
    backend = getattr(request, "param", "sqlite")
    database_url = None if backend == "sqlite" else str(request.getfixturevalue("postgres_url"))
    server = start_dockwatch(tmp_path / "data", database_url=database_url)
    yield server
    server.stop()


@pytest.fixture(params=["dockwatch", "distribution"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """The same test against dockwatch and against CNCF distribution 2.8."""
    if request.param == "dockwatch":
        server = start_dockwatch(tmp_path / "data")
    else:
        server = start_distribution(tmp_path / "distribution")
    yield server
    server.stop()


@pytest.fixture
def distribution_server(tmp_path: Path) -> Iterator[Server]:
    """A fresh CNCF distribution 2.8 server for one test."""
    server = start_distribution(tmp_path / "distribution")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster for this test process (one per xdist worker), stopped at
    session end; tests skip, saying why, when the server binaries or psycopg are missing."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg not installed (pip install -e '.[test]')")
    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as exc:
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The `postgresql+psycopg://` URL of a fresh empty database, dropped after the test."""
    url = postgres_cluster.create_database()
    yield url
    postgres_cluster.drop_database(url)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3-compatible server (moto's server mode) for the session; tests take a bucket each."""
    yield from start_s3()


@pytest.fixture(scope="session")
def aws_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEndpoint]:
    """One dockwatch per session for AWS API tests (boto3, aws CLI): tests share it, so each
    uses names of its own (`tests/support/aws.py`)."""
    endpoint = start_aws(tmp_path_factory.mktemp("aws") / "data")
    yield endpoint
    endpoint.stop()


@pytest.fixture
def aws_server(tmp_path: Path) -> Iterator[AwsEndpoint]:
    """A fresh dockwatch for one AWS API test (`tests/support/aws.py`)."""
    endpoint = start_aws(tmp_path / "data")
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def chromium_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromiumProcess]:
    """Debian's chromium, started once for the session's browser tests (`tests/support/browser.py`);
    skipped with the reason when it is not installed."""
    from tests.support.browser import start_chromium

    process = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield process
    process.stop()


@pytest.fixture
def chromium(chromium_process: ChromiumProcess) -> Iterator[Browser]:
    """Playwright connected to the session's chromium for this test only."""
    from tests.support.browser import connect

    with connect(chromium_process) as browser:
        yield browser
