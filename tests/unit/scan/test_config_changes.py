"""Configuration changes act on the images already stored (in process, real SQLite store,
controlled clock). The frequency each repository should get is computed here by brute force from
ECR's documented filter rules (substring without `*`, anchored glob with it, continuous wins),
and the state each image should show follows from the documented transitions, not from the
code under test."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockwatch.app import Services, build
from dockwatch.clock import ControlledClock
from dockwatch.config import Settings
from dockwatch.storage.scan_repo import ScanState
from dockwatch.storage.sql import finding_repo
from dockwatch.storage.sql.registry_repo import SqlRegistryRepo
from dockwatch.vulndb.importer import import_paths
from dockwatch.vulndb.service import VulnDb
from tests.builders.layers import Image, make_image, make_index, make_layer
from tests.builders.push import push_image

T0 = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)
"""The activation window the server is built with (its default)."""


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = build(Settings(data_dir=tmp_path / "d", test_mode=True))
    assert isinstance(built.clock, ControlledClock)
    built.clock.set(T0)
    try:
        yield built
    finally:
        built.close()


def _clock(services: Services) -> ControlledClock:
    assert isinstance(services.clock, ControlledClock)
    return services.clock


def _image(seed: str, version: str = "1.0") -> Image:
    meta = f"Metadata-Version: 2.1\nName: alpha\nVersion: {version}\n"
    files = {f"usr/lib/python3/site-packages/alpha-{version}.dist-info/METADATA": meta}
    return make_image([make_layer(files), make_layer({"seed": seed})])


def _advisory(tmp: Path, vid: str, fixed: str) -> None:
    folder = tmp / vid
    folder.mkdir()
    record = {
        "id": vid,
        "modified": "2031-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "alpha"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    (folder / f"{vid}.json").write_text(json.dumps(record))


def _import(services: Services, tmp: Path, vid: str, fixed: str = "2.0") -> None:
    _advisory(tmp, vid, fixed)
    import_paths(VulnDb(services.store, services.clock), [tmp / vid])


def _body(continuous: list[str], on_push: list[str]) -> dict[str, Any]:
    rules = [
        {
            "scanFrequency": frequency,
            "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters],
        }
        for frequency, filters in (("CONTINUOUS_SCAN", continuous), ("SCAN_ON_PUSH", on_push))
        if filters
    ]
    return {"scanType": "ENHANCED", "rules": rules}


def _matches(name: str, pattern: str) -> bool:
    """ECR's documented table: no `*` is a substring match, with `*` an anchored glob (the
    filter alphabet has no other glob characters, so fnmatch's `*` is exactly ECR's)."""
    return pattern in name if "*" not in pattern else fnmatch.fnmatchcase(name, pattern)


def _frequency(name: str, continuous: list[str], on_push: list[str]) -> str:
    if any(_matches(name, p) for p in continuous):
        return "CONTINUOUS_SCAN"
    if any(_matches(name, p) for p in on_push):
        return "SCAN_ON_PUSH"
    return "MANUAL"


def _repo_id(services: Services, repo: str) -> int:
    with services.db.read() as conn:
        r = SqlRegistryRepo(conn).get_repository(services.tenant, repo)
    assert r is not None
    return r.id


def _state(services: Services, repo: str, digest: str) -> ScanState | None:
    with services.store.read() as uow:
        return uow.scans.get_scan(_repo_id(services, repo), digest)


def _status(services: Services, repo: str, digest: str) -> tuple[str, str] | None:
    state = _state(services, repo, digest)
    return None if state is None else (state.status_code, state.reason)


def _findings(services: Services, repo: str, digest: str) -> dict[str, tuple[str, str]]:
    """vulnerability id -> (finding id, status) of every stored finding of an image."""
    with services.db.read() as conn:
        rows = finding_repo.findings_of(conn, _repo_id(services, repo), digest)
    return {f.vulnerability_id: (f.id, f.status) for f in rows}


def _open(services: Services, repo: str, digest: str) -> set[str]:
    return {v for v, (_, s) in _findings(services, repo, digest).items() if s != "CLOSED"}


def test_rule_changes_act_on_existing_images(services: Services, tmp_path: Path) -> None:
    clock = _clock(services)
    _import(services, tmp_path, "PYSEC-1")
    repos = ["prod-api", "prod-web", "dev-api", "tools", "legacy-api"]
    pushed_at = {"legacy-api": T0}
    digests = {"legacy-api": push_image(services, "legacy-api", _image("legacy-api"))}
    clock.set(T0 + timedelta(days=40))
    for repo in repos[:-1]:
        digests[repo] = push_image(services, repo, _image(repo))
        pushed_at[repo] = clock.now()
    services.worker.drain()  # BASIC without rules: nothing is scanned
    assert all(_status(services, r, digests[r]) is None for r in repos)

    def expected_after_activation(repo: str, frequency: str) -> tuple[str, str]:
        if frequency == "MANUAL":
            return ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
        if clock.now() - pushed_at[repo] <= WINDOW:
            return ("ACTIVE", "PENDING_INITIAL_SCAN")
        return ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")

    # 1. enhanced scanning on: the backlog is visible at once, before any scan ran
    a = (["prod-*"], ["dev"])
    start = clock.now()  # the clock ticks on from where it is set: times are bracketed
    services.scanner.put_scanning_configuration(_body(*a))
    end = clock.now()
    freq_a = {r: _frequency(r, *a) for r in repos}
    for repo in repos:
        assert _status(services, repo, digests[repo]) == expected_after_activation(
            repo, freq_a[repo]
        ), repo
    state = _state(services, "prod-api", digests["prod-api"])
    assert state is not None and state.last_activated_at is not None
    assert start <= state.last_activated_at <= end
    services.worker.drain()
    after_scan = {
        "CONTINUOUS_SCAN": ("ACTIVE", "SUCCESSFUL"),
        "SCAN_ON_PUSH": ("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH"),
    }
    for repo in repos:
        if expected_after_activation(repo, freq_a[repo])[1] == "PENDING_INITIAL_SCAN":
            assert _status(services, repo, digests[repo]) == after_scan[freq_a[repo]], repo
            assert _open(services, repo, digests[repo]) == {"PYSEC-1"}, repo
        else:
            assert _open(services, repo, digests[repo]) == set(), repo

    # 2. a new advisory: continuously scanned images get it, scan-on-push ones do not
    clock.set(clock.now() + timedelta(hours=1))
    _import(services, tmp_path, "PYSEC-2")
    services.worker.drain()
    for repo in repos:
        if after_scan.get(freq_a[repo]) and _open(services, repo, digests[repo]):
            want = {"PYSEC-1", "PYSEC-2"} if freq_a[repo] == "CONTINUOUS_SCAN" else {"PYSEC-1"}
            assert _open(services, repo, digests[repo]) == want, repo

    # 3. rules change: CONTINUOUS -> SCAN_ON_PUSH keeps findings; SCAN_ON_PUSH -> CONTINUOUS
    # re-matches against today's database; MANUAL -> covered activates (or expires)
    b = (["*-api"], ["prod-web"])
    freq_b = {r: _frequency(r, *b) for r in repos}
    before_b = {r: _open(services, r, digests[r]) for r in repos}
    clock.set(clock.now() + timedelta(hours=1))
    start = clock.now()
    services.scanner.put_scanning_configuration(_body(*b))
    end = clock.now()
    for repo in repos:
        old, new = freq_a[repo], freq_b[repo]
        status = _status(services, repo, digests[repo])
        if old == new:
            continue
        if new == "MANUAL":
            assert status == ("INACTIVE", "SCAN_FREQUENCY_MANUAL"), repo
        elif old == "MANUAL":
            assert status == expected_after_activation(repo, new), repo
        elif new == "SCAN_ON_PUSH":
            assert status == ("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH"), repo
            assert _open(services, repo, digests[repo]) == before_b[repo], repo
        else:  # SCAN_ON_PUSH -> CONTINUOUS: queued for a re-match, monitored from now
            assert status == ("ACTIVE", "SCAN_IN_PROGRESS"), repo
            state = _state(services, repo, digests[repo])
            assert state is not None and state.last_activated_at is not None
            assert start <= state.last_activated_at <= end
    start = clock.set(clock.now() + timedelta(minutes=5))
    services.worker.drain()
    end = clock.now()
    for repo in repos:
        old, new = freq_a[repo], freq_b[repo]
        if old == "SCAN_ON_PUSH" and new == "CONTINUOUS_SCAN":
            state = _state(services, repo, digests[repo])
            assert state is not None
            assert (state.status_code, state.reason) == ("ACTIVE", "SUCCESSFUL")
            assert state.last_scanned_at is not None and start <= state.last_scanned_at <= end
            assert _open(services, repo, digests[repo]) == {"PYSEC-1", "PYSEC-2"}, repo
    assert any(freq_a[r] == "SCAN_ON_PUSH" and freq_b[r] == "CONTINUOUS_SCAN" for r in repos)
    assert any(freq_a[r] == "CONTINUOUS_SCAN" and freq_b[r] == "SCAN_ON_PUSH" for r in repos)

    # 4. scan-on-push images are no longer rescanned by advisory updates
    clock.set(clock.now() + timedelta(hours=1))
    _import(services, tmp_path, "PYSEC-3")
    services.worker.drain()
    for repo in repos:
        if freq_b[repo] == "SCAN_ON_PUSH":
            assert "PYSEC-3" not in _open(services, repo, digests[repo]), repo
        elif _status(services, repo, digests[repo]) == ("ACTIVE", "SUCCESSFUL"):
            assert "PYSEC-3" in _open(services, repo, digests[repo]), repo

    # 5. removed from every rule: monitoring stops, findings close, coverage says why
    c: tuple[list[str], list[str]] = (["prod-api"], [])
    freq_c = {r: _frequency(r, *c) for r in repos}
    services.scanner.put_scanning_configuration(_body(*c))
    services.worker.drain()
    for repo in repos:
        if freq_c[repo] == "MANUAL":
            assert _status(services, repo, digests[repo]) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
            assert _open(services, repo, digests[repo]) == set(), repo
    assert freq_c["prod-api"] == "CONTINUOUS_SCAN"
    assert _status(services, "prod-api", digests["prod-api"]) == ("ACTIVE", "SUCCESSFUL")


def test_a_scan_queued_before_the_repository_left_every_rule_is_dropped(
    services: Services, tmp_path: Path
) -> None:
    _import(services, tmp_path, "PYSEC-1")
    digest = push_image(services, "queued", _image("queued"))
    services.scanner.put_scanning_configuration(_body(["queued"], []))
    assert _status(services, "queued", digest) == ("ACTIVE", "PENDING_INITIAL_SCAN")
    services.scanner.put_scanning_configuration(_body(["other"], []))  # before the worker ran
    services.worker.drain()
    assert _status(services, "queued", digest) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
    assert _findings(services, "queued", digest) == {}


def test_manual_repositories_images_are_covered_but_artifacts_and_indexes_never(
    services: Services,
) -> None:
    image = _image("img")
    signature = make_image(
        [make_layer({"sig": "x"})], artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json"
    )
    sbom = make_image(
        [make_layer({"sbom.json": "{}"})], config_media_type="application/vnd.example.sbom+json"
    )
    index = make_index([image])
    digests: dict[str, dict[str, str]] = {}
    # "before": stored under BASIC then activated; "after": pushed under ENHANCED
    for repo in ("before-manual", "before-scanned"):
        digests[repo] = {
            "image": push_image(services, repo, image, tag="v1"),
            "signature": push_image(services, repo, signature, tag="sig"),
            "sbom": push_image(services, repo, sbom, tag="sbom"),
            "index": services.registry.manifests.put(
                repo, "multi", index, "application/vnd.oci.image.index.v1+json"
            ).digest,
        }
    services.scanner.put_scanning_configuration(_body(["scanned"], []))
    for repo in ("after-manual", "after-scanned"):
        digests[repo] = {
            "image": push_image(services, repo, image, tag="v1"),
            "signature": push_image(services, repo, signature, tag="sig"),
            "sbom": push_image(services, repo, sbom, tag="sbom"),
            "index": services.registry.manifests.put(
                repo, "multi", index, "application/vnd.oci.image.index.v1+json"
            ).digest,
        }
    services.worker.drain()
    assert json.loads(index)["manifests"][0]["digest"] == digests["after-manual"]["image"]
    for repo, kinds in digests.items():
        for kind, digest in kinds.items():
            status = _status(services, repo, digest)
            if kind != "image":
                assert status is None, (repo, kind)
            elif _matches(repo, "scanned"):
                assert status == ("ACTIVE", "SUCCESSFUL"), repo
            else:
                assert status == ("INACTIVE", "SCAN_FREQUENCY_MANUAL"), repo
    # a rule change covering them later still leaves artifacts and indexes out
    services.scanner.put_scanning_configuration(_body(["manual"], []))
    services.worker.drain()
    for repo, kinds in digests.items():
        assert _status(services, repo, kinds["signature"]) is None
        assert _status(services, repo, kinds["sbom"]) is None
        assert _status(services, repo, kinds["index"]) is None


def test_scan_on_push_flag_under_enhanced_and_basic(services: Services, tmp_path: Path) -> None:
    _import(services, tmp_path, "PYSEC-1")
    digest = push_image(services, "misc", _image("misc"))
    services.scanner.put_scanning_configuration(_body(["prod"], []))
    assert _status(services, "misc", digest) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
    # under ENHANCED the rules decide: the legacy flag changes nothing
    applied = services.scanner.set_scan_on_push("misc", True)
    assert (applied.queued, applied.manual, applied.on_push, applied.rematched) == (0, 0, 0, 0)
    services.worker.drain()
    assert _status(services, "misc", digest) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
    # under BASIC the flag applies to the next push, as ECR's scanOnPush does
    services.scanner.put_scanning_configuration({"scanType": "BASIC", "rules": []})
    services.scanner.set_scan_on_push("misc", False)
    services.scanner.set_scan_on_push("misc", True)
    services.worker.drain()
    assert _status(services, "misc", digest) is None
    fresh = push_image(services, "misc", _image("fresh"), tag="v2")
    services.worker.drain()
    assert _status(services, "misc", fresh) == ("COMPLETE", "SUCCESSFUL")


def test_a_cataloger_upgrade_rescans_continuous_images_only(
    services: Services, tmp_path: Path
) -> None:
    from dockwatch.catalog.registry import CatalogerRegistry
    from dockwatch.scan.eligibility import recatalogue_pass
    from tests.unit.scan.test_recatalogue import _Bumped

    _import(services, tmp_path, "PYSEC-1")
    services.scanner.put_scanning_configuration(_body(["always"], ["once"]))
    kept = push_image(services, "always", _image("always"))
    once = push_image(services, "once", _image("once"))
    services.worker.drain()
    assert _status(services, "once", once) == ("ACTIVE", "SCAN_FREQUENCY_SCAN_ON_PUSH")
    scanned_once = _state(services, "once", once)
    registry = CatalogerRegistry()
    for c in services.scanner.catalogers:
        registry.register(_Bumped(c) if "python" in c.name else c)
    services.scanner.catalogers = registry
    assert recatalogue_pass(services.scanner) == 1  # "always" only
    _clock(services).set(T0 + timedelta(hours=1))
    services.worker.drain()
    assert _state(services, "once", once) == scanned_once
    state = _state(services, "always", kept)
    assert state is not None and state.last_scanned_at is not None
    assert state.last_scanned_at >= T0 + timedelta(hours=1)
