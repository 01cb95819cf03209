"""Pulls judged by pull policies, through the ASGI app over a real store: by tag, by digest,
through an index, of artifacts; exemptions; refusal body, event and metric."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from dockwatch.app import Services
from dockwatch.clock import ControlledClock
from dockwatch.model.events import PullRefused
from dockwatch.model.times import iso
from tests.builders.layers import make_image, make_index, make_layer, sha256
from tests.builders.push import OCI_MANIFEST, push_image

from .world import World, python_image

pytestmark = pytest.mark.anyio

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = {"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"}


async def _pull(api: httpx.AsyncClient, ref: str, repo: str = "app") -> httpx.Response:
    return await api.get(f"/v2/{repo}/manifests/{ref}", headers=ACCEPT)


async def _policy(api: httpx.AsyncClient, body: dict[str, Any], repo: str | None = None) -> None:
    path = "/api/v1/pull-policy" if repo is None else f"/api/v1/repositories/{repo}/pull-policy"
    r = await api.put(path, json=body)
    assert r.status_code == 200, r.text


def _denied(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 403, r.text
    (error,) = r.json()["errors"]
    assert error["code"] == "DENIED"
    detail: dict[str, Any] = error["detail"]
    assert isinstance(error["message"], str) and error["message"]
    return {"message": error["message"], **detail}


def _clock(services: Services) -> ControlledClock:
    clock = services.clock
    assert isinstance(clock, ControlledClock)
    return clock


async def test_without_a_policy_every_image_is_served(api: httpx.AsyncClient, world: World) -> None:
    for tag in ("high", "low", "clean"):
        assert (await _pull(api, tag)).status_code == 200


async def test_a_severity_threshold_refuses_with_denied_naming_the_findings(
    api: httpx.AsyncClient, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH"})
    detail = _denied(await _pull(api, "high"))
    assert detail["reasons"] == ["SEVERITY"]
    assert [
        {k: f[k] for k in ("vulnerabilityId", "severity", "packageName")}
        for f in detail["findings"]
    ] == [{"vulnerabilityId": "PYSEC-HIGH", "severity": "HIGH", "packageName": "alpha"}]
    assert detail["findingsTotal"] == 1 and detail["imageDigest"] == world.high.digest
    assert detail["policy"]["scope"] == "REGISTRY"
    assert detail["policy"]["severityThreshold"] == "HIGH"
    assert "PYSEC-HIGH" in detail["message"] and "alpha" in detail["message"]
    # LOW is below the threshold; the clean image has no finding
    assert (await _pull(api, "low")).status_code == 200
    assert (await _pull(api, "clean")).status_code == 200


async def test_by_tag_and_by_digest_get_the_same_verdict_and_head_reveals_the_digest_only(
    api: httpx.AsyncClient, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH"})
    by_tag = _denied(await _pull(api, "high"))
    by_digest = _denied(await _pull(api, world.high.digest))
    assert by_tag["findings"] == by_digest["findings"]
    head = await api.head("/v2/app/manifests/high", headers=ACCEPT)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Docker-Content-Digest"] == world.high.digest


async def test_an_index_is_refused_when_one_platform_image_is_and_each_platform_is_judged_alone(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    index = make_index([world.clean, world.low])
    digest = services.registry.manifests.put("app", "multi", index, OCI_INDEX).digest
    await _policy(api, {"blockExploitable": True})
    detail = _denied(await _pull(api, "multi"))
    assert detail["imageDigest"] == digest
    assert detail["reasons"] == ["EXPLOIT_AVAILABLE"]
    assert [(i["imageDigest"], i["platform"]) for i in detail["images"]] == [
        (world.low.digest, "linux/arm64")
    ]
    assert [f["vulnerabilityId"] for f in detail["findings"]] == ["CVE-2090-0002"]
    assert _denied(await _pull(api, digest))["images"] == detail["images"]
    # each platform image fetched by digest is judged by itself
    assert (await _pull(api, world.clean.digest)).status_code == 200
    assert _denied(await _pull(api, world.low.digest))["reasons"] == ["EXPLOIT_AVAILABLE"]
    # an index of clean images only is served
    clean_index = make_index([world.clean])
    services.registry.manifests.put("app", "clean-multi", clean_index, OCI_INDEX)
    assert (await _pull(api, "clean-multi")).status_code == 200


async def test_signatures_attestations_and_the_referrers_api_are_never_refused(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    subject = {"mediaType": OCI_MANIFEST, "digest": world.high.digest,
               "size": len(world.high.manifest)}  # fmt: skip
    # an OCI 1.1 referrer (artifactType, empty config) naming the refused image as subject
    sbom = make_image(
        [make_layer({"sbom.json": "{}"})],
        config_media_type="application/vnd.oci.empty.v1+json",
        layer_media_type="application/spdx+json",
        artifact_type="application/spdx+json",
    )
    doc = json.loads(sbom.manifest)
    doc["subject"] = subject
    content = json.dumps(doc).encode()
    for blob in (sbom.config, *(layer.blob for layer in sbom.layers)):
        from tests.builders.push import upload_blob

        upload_blob(services, "app", blob)
    sbom_digest = services.registry.manifests.put("app", sha256(content), content, OCI_MANIFEST)
    # a cosign-style signature: image config, simple-signing layer, tag sha256-<hex>.sig
    sig = make_image(
        [make_layer({"payload": "{}"})],
        layer_media_type="application/vnd.dev.cosign.simplesigning.v1+json",
    )
    sig_tag = world.high.digest.replace(":", "-") + ".sig"
    push_image(services, "app", sig, tag=sig_tag)
    await _policy(api, {"severityThreshold": "LOW", "requireScan": True})
    _denied(await _pull(api, "high"))
    assert (await _pull(api, sig_tag)).status_code == 200
    assert (await _pull(api, sbom_digest.digest)).status_code == 200
    referrers = await api.get(f"/v2/app/referrers/{world.high.digest}")
    assert referrers.status_code == 200
    assert [m["digest"] for m in referrers.json()["manifests"]] == [sbom_digest.digest]


async def test_an_image_not_scanned_yet_is_refused_and_then_served_once_scanned(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"severityThreshold": "CRITICAL"})
    fresh = python_image({"zeta": "1.0", "eta": "2.0"})
    push_image(services, "app", fresh, tag="fresh")
    services.worker.dispatch()  # the push is seen: PENDING_INITIAL_SCAN, not yet scanned
    detail = _denied(await _pull(api, "fresh"))
    assert detail["reasons"] == ["NOT_SCANNED"]
    assert detail["images"][0]["scanStatus"] == "ACTIVE/PENDING_INITIAL_SCAN"
    assert "no complete scan" in detail["message"]
    services.worker.drain()
    assert (await _pull(api, "fresh")).status_code == 200
    # requireScan false lets an unscanned image through
    other = python_image({"theta": "1.0"})
    push_image(services, "app", other, tag="other")
    _denied(await _pull(api, "other"))
    await _policy(api, {"severityThreshold": "CRITICAL", "requireScan": False})
    assert (await _pull(api, "other")).status_code == 200


async def test_a_stale_scan_is_refused_and_a_policy_change_applies_to_the_next_pull(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"maxScanAgeHours": 2})
    assert (await _pull(api, "clean")).status_code == 200
    _clock(services).advance(timedelta(hours=3))
    detail = _denied(await _pull(api, "clean"))
    assert detail["reasons"] == ["SCAN_STALE"]
    assert "older than 2 hours" in detail["message"]
    await _policy(api, {"maxScanAgeHours": 4})
    assert (await _pull(api, "clean")).status_code == 200
    r = await api.delete("/api/v1/pull-policy")
    assert r.status_code == 200
    await _policy(api, {"maxScanAgeHours": 1})
    _denied(await _pull(api, "clean"))


async def test_a_suppression_rule_exempts_its_findings_until_it_expires(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH"})
    _denied(await _pull(api, "high"))
    expires = iso(services.clock.now() + timedelta(hours=1))
    rule = {
        "action": "SUPPRESS",
        "name": "accepted",
        "reason": "not reachable",
        "filterCriteria": {"vulnerabilityId": [{"comparison": "EQUALS", "value": "PYSEC-HIGH"}]},
        "expiresAt": expires,
    }
    r = await api.post("/api/v1/suppression-rules", json=rule)
    assert r.status_code == 201, r.text
    assert (await _pull(api, "high")).status_code == 200
    # past its expiry the rule exempts nothing, before any worker pass re-evaluates findings
    _clock(services).advance(timedelta(hours=2))
    assert [f["vulnerabilityId"] for f in _denied(await _pull(api, "high"))["findings"]] == [
        "PYSEC-HIGH"
    ]


async def test_an_allowance_lets_its_image_through_until_it_expires(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH"})
    body = {
        "repositoryName": "app",
        "imageDigest": world.high.digest,
        "reason": "hotfix rollout, ticket 42",
        "expiresAt": iso(services.clock.now() + timedelta(hours=1)),
    }
    r = await api.post("/api/v1/pull-allowances", json=body)
    assert r.status_code == 201, r.text
    allowance = r.json()
    assert allowance["expired"] is False and allowance["reason"] == body["reason"]
    assert (await _pull(api, "high")).status_code == 200
    assert (await _pull(api, world.high.digest)).status_code == 200
    _clock(services).advance(timedelta(hours=2))
    _denied(await _pull(api, "high"))
    listed = (await api.get("/api/v1/pull-allowances")).json()["allowances"]
    assert [(a["allowanceId"], a["expired"]) for a in listed] == [(allowance["allowanceId"], True)]


async def test_an_allowance_on_an_index_covers_its_platform_images_pulled_by_digest(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    index = make_index([world.high, world.low])
    digest = services.registry.manifests.put("app", "multi", index, OCI_INDEX).digest
    await _policy(api, {"severityThreshold": "LOW"})
    _denied(await _pull(api, "multi"))
    r = await api.post(
        "/api/v1/pull-allowances",
        json={"repositoryName": "app", "imageDigest": digest, "reason": "vendor image",
              "expiresAt": iso(services.clock.now() + timedelta(days=7))},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (await _pull(api, "multi")).status_code == 200
    assert (await _pull(api, world.high.digest)).status_code == 200
    assert (await _pull(api, world.low.digest)).status_code == 200
    r = await api.delete(f"/api/v1/pull-allowances/{r.json()['allowanceId']}")
    assert r.status_code == 200
    _denied(await _pull(api, world.high.digest))


async def test_a_repository_policy_replaces_the_registry_policy_for_that_repository(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH"})
    push_image(services, "other", world.high, tag="high")
    services.worker.drain()
    await _policy(api, {"enabled": False}, repo="app")
    assert (await _pull(api, "high")).status_code == 200
    _denied(await _pull(api, "high", repo="other"))
    await _policy(api, {"severityThreshold": "LOW"}, repo="app")
    assert _denied(await _pull(api, "low"))["policy"]["scope"] == "REPOSITORY"
    r = await api.delete("/api/v1/repositories/app/pull-policy")
    assert r.status_code == 200
    assert (await _pull(api, "low")).status_code == 200  # the registry's HIGH governs again
    _denied(await _pull(api, "high"))


async def test_a_refusal_writes_one_event_per_interval_and_counts_every_refusal(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    await _policy(api, {"severityThreshold": "HIGH", "blockExploitable": True})
    for _ in range(3):
        _denied(await _pull(api, "high"))
    _denied(await _pull(api, "low"))
    with services.store.read() as uow:
        events = [e.event for e in uow.outbox.read_after(0, [PullRefused.NAME])]
    assert [
        (e.image_digest, e.reference, e.reasons, e.vulnerability_ids)
        for e in events
        if isinstance(e, PullRefused)
    ] == [
        (world.high.digest, "high", ("SEVERITY",), ("PYSEC-HIGH",)),
        (world.low.digest, "low", ("EXPLOIT_AVAILABLE",), ("CVE-2090-0002",)),
    ]
    metrics = (await api.get("/metrics")).text
    assert 'dockwatch_pulls_refused_total{reason="severity"} 3.0' in metrics
    assert 'dockwatch_pulls_refused_total{reason="exploit_available"} 1.0' in metrics
    assert 'dockwatch_pulls_refused_total{reason="not_scanned"} 0.0' in metrics


async def test_a_scan_cut_short_is_not_scanned(tmp_path: Any) -> None:
    from dockwatch.api.app import create_app
    from tests.unit.api.conftest import client_for, make_services

    from .world import build_world

    services = make_services(tmp_path / "cut", scan_layer_seconds=0)
    try:
        world = build_world(services, tmp_path)
        with services.store.read() as uow:
            repo = uow.registry.get_repository(services.tenant, "app")
            assert repo is not None
            state = uow.scans.get_scan(repo.id, world.clean.digest)
        assert state is not None and state.reason == "SCAN_INCOMPLETE"
        async with client_for(create_app(services)) as api:
            await _policy(api, {"severityThreshold": "CRITICAL"})
            detail = _denied(await _pull(api, "clean"))
            assert detail["reasons"] == ["NOT_SCANNED"]
            assert detail["images"][0]["scanStatus"] == "INACTIVE/SCAN_INCOMPLETE"
    finally:
        services.close()


async def test_a_platform_image_served_for_a_manifest_list_tag_is_judged_as_itself(
    api: httpx.AsyncClient, services: Services, world: World
) -> None:
    docker_list = "application/vnd.docker.distribution.manifest.list.v2+json"
    doc = json.loads(make_index([world.high, world.low]))
    doc["mediaType"] = docker_list
    services.registry.manifests.put("app", "legacy", json.dumps(doc).encode(), docker_list)
    await _policy(api, {"severityThreshold": "HIGH"})
    # a client that does not accept lists gets the linux/amd64 image for the tag: judged as such
    r = await api.get("/v2/app/manifests/legacy", headers={"Accept": OCI_MANIFEST})
    detail = _denied(r)
    assert detail["imageDigest"] == world.high.digest
    assert [f["vulnerabilityId"] for f in detail["findings"]] == ["PYSEC-HIGH"]
