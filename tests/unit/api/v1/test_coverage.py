"""Coverage through the JSON API (ListCoverage, ListCoverageStatistics) over a real store: images
and repositories, every filter key checked against a brute-force filter of the full listing,
keyset pages under filters, counts per group, shapes checked against botocore's model."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dockwatch.api.app import create_app
from dockwatch.app import Services
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Layer, make_image, make_layer
from tests.builders.push import OCI_MANIFEST, push_image
from tests.support.botocore_shapes import assert_output, output_shape, problems
from tests.unit.api.conftest import client_for, make_services

pytestmark = pytest.mark.anyio

IMAGE, REPOSITORY = "AWS_ECR_CONTAINER_IMAGE", "AWS_ECR_REPOSITORY"
RULES = {
    "scanType": "ENHANCED",
    "rules": [
        {
            "scanFrequency": "CONTINUOUS_SCAN",
            "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
        },
        {
            "scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [
                {"filter": "team_x", "filterType": "WILDCARD"},
                {"filter": "ci", "filterType": "WILDCARD"},
            ],
        },
    ],
}
#: each repository's frequency under RULES, by ECR's rules (prod-* a glob, `team_x` and `ci`
#: substrings; `teamyx-app` shows that `_` is a character, not a wildcard)
FREQUENCIES = {
    "prod-a": "CONTINUOUS_SCAN",
    "prod-b": "CONTINUOUS_SCAN",
    "ci-tools": "SCAN_ON_PUSH",
    "team_x-app": "SCAN_ON_PUSH",
    "teamyx-app": "MANUAL",
    "scratch": "MANUAL",
}


def _python_layer(name: str, version: str, salt: str) -> Layer:
    path = f"usr/lib/python3/site-packages/{name}-{version}.dist-info/METADATA"
    return make_layer(
        {path: f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "salt": salt}
    )


def _advisories(services: Services, tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    folder.mkdir()
    for vid, package, fixed in (("PYSEC-9-1", "alpha", "2.0"), ("PYSEC-9-2", "alpha", "3.0")):
        record = {
            "id": vid,
            "modified": "2026-11-01T00:00:00Z",
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": package},
                    "ranges": [
                        {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                    ],
                }
            ],
        }
        (folder / f"{vid}.json").write_text(json.dumps(record))
    import_paths(VulnDb(services.store, services.clock), [folder])


def populate(services: Services, tmp_path: Path) -> dict[str, str]:
    """Six repositories, two or three images each (tags v0, v1, some a second tag), one image
    pulled, one scan still pending; the digest of a few named images."""
    _advisories(services, tmp_path)
    services.scanner.put_scanning_configuration(RULES)
    named: dict[str, str] = {}
    for i, repo in enumerate(FREQUENCIES):
        for j in range(2):
            image = make_image([_python_layer("alpha" if j == 0 else "beta", "1.0", f"{i}{j}")])
            digest = push_image(services, repo, image, tag=f"v{j}")
            named[f"{repo}:v{j}"] = digest
            if j == 0:
                services.registry.manifests.put(repo, "stable", image.manifest, OCI_MANIFEST)
    services.worker.drain()
    services.registry.manifests.get("prod-a", "v0", [OCI_MANIFEST], record_pull=True)
    late = make_image([_python_layer("alpha", "1.0", "late")])
    named["prod-b:late"] = push_image(services, "prod-b", late, tag="late")
    services.worker.dispatch()  # queued, not run: PENDING_INITIAL_SCAN
    return named


@pytest.fixture(scope="module")
def populated(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Services, dict[str, str]]]:
    """One populated registry for the module's tests (they only read it)."""
    tmp_path = tmp_path_factory.mktemp("coverage")
    services = make_services(tmp_path)
    try:
        named = populate(services, tmp_path)
        yield services, named
    finally:
        services.close()


@pytest.fixture
async def client(populated: tuple[Services, dict[str, str]]) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(populated[0])) as c:
        yield c


async def _all(c: httpx.AsyncClient, criteria: dict[str, Any], size: int = 200) -> list[Any]:
    """Every page of POST /api/v1/coverage/list, each checked against ListCoverage's shape."""
    out: list[Any] = []
    body: dict[str, Any] = {"filterCriteria": criteria, "maxResults": size}
    for _ in range(100):
        r = await c.post("/api/v1/coverage/list", json=body)
        assert r.status_code == 200, r.text
        page = r.json()
        assert_output("inspector2", "ListCoverage", page)
        assert len(page["coveredResources"]) <= size
        out += page["coveredResources"]
        if "nextToken" not in page:
            return out
        body["nextToken"] = page["nextToken"]
    raise AssertionError("the pages never ended")


# --- the brute-force oracle: Inspector's filter semantics over the full listing ---------------


def _values(resource: dict[str, Any], key: str) -> list[Any]:
    meta = resource.get("resourceMetadata", {})
    image = meta.get("ecrImage", {})
    found: dict[str, list[Any]] = {
        "accountId": [resource["accountId"]],
        "resourceId": [resource["resourceId"]],
        "resourceType": [resource["resourceType"]],
        "scanType": [resource["scanType"]],
        "scanStatusCode": [resource["scanStatus"]["statusCode"]],
        "scanStatusReason": [resource["scanStatus"]["reason"]],
        "ecrRepositoryName": [meta["ecrRepository"]["name"]],
        "ecrImageTags": image.get("tags", []),
        "lastScannedAt": [resource["lastScannedAt"]] if "lastScannedAt" in resource else [],
        "imagePulledAt": [image["imagePulledAt"]] if "imagePulledAt" in image else [],
    }
    return found.get(key, [])


def _time(value: Any) -> datetime:
    return (
        datetime.fromisoformat(value)
        if isinstance(value, str)
        else datetime.fromtimestamp(value, UTC)
    )


def _holds(resource: dict[str, Any], criteria: dict[str, Any]) -> bool:
    for key, filters in criteria.items():
        values = _values(resource, key)
        if "comparison" in filters[0] and "key" not in filters[0]:
            equals = [f["value"] for f in filters if f["comparison"] == "EQUALS"]
            not_equals = [f["value"] for f in filters if f["comparison"] == "NOT_EQUALS"]
            if equals and not any(v in values for v in equals):
                return False
            if any(v in values for v in not_equals):
                return False
        elif "key" in filters[0]:
            return False  # map filters: no ECR resource has EC2/Lambda tags
        else:
            times = [datetime.fromisoformat(v) for v in values]
            if not any(
                ("startInclusive" not in f or t >= _time(f["startInclusive"]))
                and ("endInclusive" not in f or t <= _time(f["endInclusive"]))
                for f in filters
                for t in times
            ):
                return False
    return True


def _eq(value: str) -> dict[str, str]:
    return {"comparison": "EQUALS", "value": value}


def _ne(value: str) -> dict[str, str]:
    return {"comparison": "NOT_EQUALS", "value": value}


async def test_images_and_repositories_are_listed_as_inspector_lists_them(
    client: httpx.AsyncClient, populated: tuple[Services, dict[str, str]]
) -> None:
    services, named = populated
    everything = await _all(client, {})
    repositories = {
        r["resourceMetadata"]["ecrRepository"]["name"]: r
        for r in everything
        if r["resourceType"] == REPOSITORY
    }
    assert set(repositories) == set(FREQUENCIES)
    account, region = services.tenant.account_id, services.tenant.region
    for name, frequency in FREQUENCIES.items():
        r = repositories[name]
        assert r["resourceId"] == f"arn:aws:ecr:{region}:{account}:repository/{name}"
        assert r["resourceMetadata"] == {
            "ecrRepository": {"name": name, "scanFrequency": frequency}
        }
        manual = frequency == "MANUAL"
        assert r["scanStatus"] == {
            "statusCode": "INACTIVE" if manual else "ACTIVE",
            "reason": "SCAN_FREQUENCY_MANUAL" if manual else "SUCCESSFUL",
        }
    images = {r["resourceId"]: r for r in everything if r["resourceType"] == IMAGE}
    prod_a = images[f"arn:aws:ecr:{region}:{account}:repository/prod-a/{named['prod-a:v0']}"]
    assert prod_a["resourceMetadata"]["ecrImage"]["tags"] == ["stable", "v0"]
    assert "imagePulledAt" in prod_a["resourceMetadata"]["ecrImage"]
    assert prod_a["resourceMetadata"]["ecrRepository"]["scanFrequency"] == "CONTINUOUS_SCAN"
    assert prod_a["scanStatus"] == {"statusCode": "ACTIVE", "reason": "SUCCESSFUL"}
    late = images[f"arn:aws:ecr:{region}:{account}:repository/prod-b/{named['prod-b:late']}"]
    assert late["scanStatus"] == {"statusCode": "ACTIVE", "reason": "PENDING_INITIAL_SCAN"}
    # (repository, digest) order, a repository before its images
    keys = [(_values(r, "ecrRepositoryName")[0], r["resourceId"]) for r in everything]
    assert keys == sorted(keys)
    # the GET form lists images unless resourceType says otherwise
    got = (await client.get("/api/v1/coverage")).json()["coveredResources"]
    assert [r["resourceId"] for r in got] == [
        r["resourceId"] for r in everything if r["resourceType"] == IMAGE
    ]
    got = (await client.get("/api/v1/coverage", params={"resourceType": REPOSITORY})).json()
    assert [r["resourceId"] for r in got["coveredResources"]] == [
        r["resourceId"] for r in everything if r["resourceType"] == REPOSITORY
    ]


def _criteria_cases(
    services: Services, named: dict[str, str], everything: list[Any]
) -> list[dict[str, Any]]:
    account, region = services.tenant.account_id, services.tenant.region
    arn = f"arn:aws:ecr:{region}:{account}:repository/prod-a"
    scanned = sorted(r["lastScannedAt"] for r in everything if "lastScannedAt" in r)
    middle = scanned[len(scanned) // 2]
    now = services.clock.now()
    return [
        {"resourceType": [_eq(REPOSITORY)]},
        {"resourceType": [_eq(IMAGE)], "ecrRepositoryName": [_eq("prod-a"), _eq("ci-tools")]},
        {"ecrRepositoryName": [_ne("prod-a"), _ne("scratch")]},
        {"scanStatusCode": [_eq("INACTIVE")]},
        {"scanStatusReason": [_eq("PENDING_INITIAL_SCAN")]},
        {"scanStatusReason": [_ne("SUCCESSFUL")], "resourceType": [_ne(REPOSITORY)]},
        {"ecrImageTags": [_eq("stable")]},
        {"ecrImageTags": [_ne("stable")]},
        {"ecrImageTags": [_eq("v1"), _eq("late")], "ecrRepositoryName": [_eq("prod-b")]},
        {"resourceId": [_eq(arn), _eq(f"{arn}/{named['prod-a:v1']}")]},
        {"resourceId": [_ne(arn)], "ecrRepositoryName": [_eq("prod-a")]},
        {"accountId": [_eq(account)], "scanType": [_eq("PACKAGE")]},
        {"accountId": [_ne(account)]},
        {"scanType": [_eq("NETWORK")]},
        {"scanMode": [_ne("EC2_AGENTLESS")]},
        {"lambdaFunctionName": [_eq("f")]},
        {"ec2InstanceTags": [{"comparison": "EQUALS", "key": "k", "value": "v"}]},
        {"lastScannedAt": [{"startInclusive": middle}]},
        {"lastScannedAt": [{"endInclusive": middle}, {"startInclusive": now.isoformat()}]},
        {"imagePulledAt": [{"startInclusive": (now - timedelta(hours=1)).timestamp()}]},
        {"ecrImageLastInUseAt": [{"startInclusive": 0}]},
        {"ecrImageInUseCount": [{"lowerInclusive": 0}]},
    ]


async def test_every_filter_key_agrees_with_a_brute_force_filter_page_by_page(
    client: httpx.AsyncClient, populated: tuple[Services, dict[str, str]]
) -> None:
    services, named = populated
    everything = await _all(client, {})
    assert len([r for r in everything if r["resourceType"] == REPOSITORY]) == 6
    for criteria in _criteria_cases(services, named, everything):
        expected = [r for r in everything if _holds(r, criteria)]
        for size in (200, 2):  # one page, then pages of two
            got = await _all(client, criteria, size)
            assert got == expected, criteria
    # the cases are not vacuous: some select few, some many
    sizes = {
        len([r for r in everything if _holds(r, c)])
        for c in _criteria_cases(services, named, everything)
    }
    assert 0 in sizes and len(everything) in sizes and len(sizes) > 5


async def test_a_token_is_bound_to_its_filters(client: httpx.AsyncClient) -> None:
    body = {"filterCriteria": {"resourceType": [_eq(IMAGE)]}, "maxResults": 1}
    token = (await client.post("/api/v1/coverage/list", json=body)).json()["nextToken"]
    other = {"filterCriteria": {"resourceType": [_eq(REPOSITORY)]}, "nextToken": token}
    r = await client.post("/api/v1/coverage/list", json=other)
    assert r.status_code == 400 and "nextToken" in r.json()["message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"filterCriteria": {"severity": [_eq("HIGH")]}}, "filterCriteria.severity"),
        (
            {"filterCriteria": {"ecrRepositoryName": [{"comparison": "PREFIX", "value": "p"}]}},
            "filterCriteria.ecrRepositoryName[0].comparison",
        ),
        (
            {"filterCriteria": {"resourceType": [_eq("AWS_ECR_IMAGE")]}},
            "filterCriteria.resourceType[0].value",
        ),
        (
            {"filterCriteria": {"lastScannedAt": [{"startInclusive": "yesterday"}]}},
            "filterCriteria.lastScannedAt[0].startInclusive",
        ),
        (
            {"filterCriteria": {"ecrImageTags": [{"comparison": "EQUALS", "value": "", "x": 1}]}},
            "filterCriteria.ecrImageTags[0].x",
        ),
        ({"filterCriteria": {"scanStatusCode": []}}, "filterCriteria.scanStatusCode"),
        ({"maxResults": 0}, "maxResults"),
        ({"sortCriteria": {}}, "sortCriteria"),
    ],
)
async def test_bad_criteria_are_refused_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    r = await api.post("/api/v1/coverage/list", json=body)
    assert r.status_code == 400
    assert r.json()["__type"] == "ValidationException" and named in r.json()["message"]
    if "filterCriteria" in body:
        r = await api.post("/api/v1/coverage/statistics/list", json=body)
        assert r.status_code == 400 and named in r.json()["message"]


async def test_get_takes_the_criteria_as_query_parameters(client: httpx.AsyncClient) -> None:
    everything = await _all(client, {})
    r = await client.get(
        "/api/v1/coverage",
        params=[
            ("repositoryName", "prod-a"),
            ("repositoryName", "prod-b"),
            ("ecrImageTags", "!v1"),
        ],
    )
    criteria = {
        "resourceType": [_eq(IMAGE)],
        "ecrRepositoryName": [_eq("prod-a"), _eq("prod-b")],
        "ecrImageTags": [_ne("v1")],
    }
    assert r.json()["coveredResources"] == [x for x in everything if _holds(x, criteria)]
    bad = await client.get("/api/v1/coverage", params={"nosuchKey": "x"})
    assert bad.status_code == 400 and "nosuchKey" in bad.json()["message"]


async def test_statistics_count_what_the_listing_lists(
    client: httpx.AsyncClient, populated: tuple[Services, dict[str, str]]
) -> None:
    services, named = populated
    everything = await _all(client, {})
    group_values: dict[str, Callable[[dict[str, Any]], str]] = {
        "SCAN_STATUS_CODE": lambda r: r["scanStatus"]["statusCode"],
        "SCAN_STATUS_REASON": lambda r: r["scanStatus"]["reason"],
        "ACCOUNT_ID": lambda r: r["accountId"],
        "RESOURCE_TYPE": lambda r: r["resourceType"],
        "ECR_REPOSITORY_NAME": lambda r: r["resourceMetadata"]["ecrRepository"]["name"],
    }
    for criteria in _criteria_cases(services, named, everything)[:12]:
        selected = [r for r in everything if _holds(r, criteria)]
        for group, value_of in group_values.items():
            body = {"filterCriteria": criteria, "groupBy": group}
            r = await client.post("/api/v1/coverage/statistics/list", json=body)
            assert r.status_code == 200, r.text
            stats = r.json()
            # groupKey carries each group's value, which the model types as the GroupKey enum
            assert_output("inspector2", "ListCoverageStatistics", stats, open_enums={"GroupKey"})
            assert stats["totalCounts"] == len(selected)
            counted = {c["groupKey"]: c["count"] for c in stats["countsByGroup"]}
            assert counted == dict(Counter(value_of(x) for x in selected)), (criteria, group)
    plain = (await client.post("/api/v1/coverage/statistics/list", json={})).json()
    assert plain == {"totalCounts": len(everything)}
    for bad in ("PROVIDER", "SEVERITY"):
        r = await client.post("/api/v1/coverage/statistics/list", json={"groupBy": bad})
        assert r.status_code == 400 and "groupBy" in r.json()["message"]


async def test_basic_scanning_has_no_coverage(api: httpx.AsyncClient, services: Services) -> None:
    push_image(services, "plain", make_image([_python_layer("alpha", "1.0", "b")]), tag="v0")
    services.worker.drain()
    assert (await api.post("/api/v1/coverage/list", json={})).json() == {"coveredResources": []}
    stats = await api.post("/api/v1/coverage/statistics/list", json={"groupBy": "RESOURCE_TYPE"})
    assert stats.json() == {"totalCounts": 0, "countsByGroup": []}


def test_the_shape_checker_sees_drift() -> None:
    shape = output_shape("inspector2", "ListCoverage")
    good = {"coveredResources": [{"resourceType": IMAGE, "resourceId": "x", "accountId": "1",
                                  "scanType": "PACKAGE"}]}  # fmt: skip
    assert problems(shape, good) == []
    extra = {"coveredResources": [{**good["coveredResources"][0], "pushedAt": "x"}]}
    missing = {"coveredResources": [{"resourceType": IMAGE}]}
    wrong = {"coveredResources": [{**good["coveredResources"][0], "scanType": "BINARY"}]}
    assert all(problems(shape, bad) for bad in (extra, missing, wrong))
