"""The pull-policy and pull-allowance operations: answers, validation errors, missing things."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from dockwatch.app import Services
from dockwatch.model.times import iso

pytestmark = pytest.mark.anyio

DIGEST = "sha256:" + "c" * 64


async def test_registry_and_repository_policies_round_trip(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/pull-policy")).status_code == 404
    r = await api.put("/api/v1/pull-policy", json={"severityThreshold": "HIGH"})
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "REGISTRY" and body["severityThreshold"] == "HIGH"
    assert body["requireScan"] is True and body["updatedAt"]
    assert (await api.get("/api/v1/pull-policy")).json() == body
    r = await api.put("/api/v1/repositories/team/app/pull-policy", json={"enabled": False})
    assert r.json()["scope"] == "REPOSITORY" and r.json()["repositoryName"] == "team/app"
    got = await api.get("/api/v1/repositories/team/app/pull-policy")
    assert got.json()["enabled"] is False
    assert (await api.delete("/api/v1/repositories/team/app/pull-policy")).status_code == 200
    gone = await api.get("/api/v1/repositories/team/app/pull-policy")
    assert gone.status_code == 404 and gone.json()["__type"] == "ResourceNotFoundException"
    assert (await api.delete("/api/v1/repositories/team/app/pull-policy")).status_code == 404


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"severityThreshold": 3}, "severityThreshold: must be string"),
        ({"severityThreshold": "NOPE"}, "severityThreshold must be one of"),
        ({"maxScanAgeHours": "12"}, "maxScanAgeHours: must be integer"),
        ({"requireScan": 1}, "requireScan: must be boolean"),
        ({"adminBypass": True}, "unknown field 'adminBypass'"),
        ([1], "must be a JSON object"),
    ],
)
async def test_a_bad_policy_is_a_validation_error(
    api: httpx.AsyncClient, body: Any, words: str
) -> None:
    r = await api.put("/api/v1/pull-policy", json=body)
    assert r.status_code == 400
    assert r.json()["__type"] == "ValidationException" and words in r.json()["message"]
    assert (await api.get("/api/v1/pull-policy")).status_code == 404


async def test_a_bad_repository_name_is_a_validation_error(api: httpx.AsyncClient) -> None:
    r = await api.put("/api/v1/repositories/Upper/pull-policy", json={})
    assert r.status_code == 400 and "invalid repository name" in r.json()["message"]


async def test_allowances_are_created_listed_paged_and_revoked(
    api: httpx.AsyncClient, services: Services
) -> None:
    expires = iso(services.clock.now() + timedelta(days=2))
    made = []
    for repo in ("a", "b", "a"):
        body = {"repositoryName": repo, "imageDigest": DIGEST, "reason": "why",
                "expiresAt": expires}  # fmt: skip
        r = await api.post("/api/v1/pull-allowances", json=body)
        assert r.status_code == 201, r.text
        made.append(r.json())
    assert made[0]["expiresAt"] == expires and made[0]["imageDigest"] == DIGEST
    first = (await api.get("/api/v1/pull-allowances", params={"maxResults": 2})).json()
    rest = (
        await api.get(
            "/api/v1/pull-allowances", params={"maxResults": 2, "nextToken": first["nextToken"]}
        )
    ).json()
    ids = [a["allowanceId"] for a in first["allowances"] + rest["allowances"]]
    assert sorted(ids) == sorted(a["allowanceId"] for a in made) and "nextToken" not in rest
    only_a = (await api.get("/api/v1/pull-allowances", params={"repositoryName": "a"})).json()
    assert {a["repositoryName"] for a in only_a["allowances"]} == {"a"}
    one = made[1]["allowanceId"]
    assert (await api.get(f"/api/v1/pull-allowances/{one}")).json()["repositoryName"] == "b"
    assert (await api.delete(f"/api/v1/pull-allowances/{one}")).status_code == 200
    assert (await api.get(f"/api/v1/pull-allowances/{one}")).status_code == 404
    assert (await api.delete(f"/api/v1/pull-allowances/{one}")).status_code == 404


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"reason": None}, "reason: must be string, got null"),
        ({"expiresAt": None}, "expiresAt: must be string or number, got null"),
        ({"expiresAt": True}, "expiresAt: must be string or number"),
        ({"imageDigest": "latest"}, "digest"),
        ({"expiresAt": "2000-01-01T00:00:00Z"}, "in the future"),
    ],
)
async def test_a_bad_allowance_is_a_validation_error(
    api: httpx.AsyncClient, services: Services, change: dict[str, Any], words: str
) -> None:
    body: dict[str, Any] = {"repositoryName": "a", "imageDigest": DIGEST, "reason": "why",
                            "expiresAt": iso(services.clock.now() + timedelta(days=1))}  # fmt: skip
    body.update(change)
    r = await api.post("/api/v1/pull-allowances", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] == "ValidationException" and words in r.json()["message"]
    assert (await api.get("/api/v1/pull-allowances")).json()["allowances"] == []
