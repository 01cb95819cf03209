"""Configuration changes against the real server: coverage and findings follow each rule change,
deactivation and re-activation, as a client of the HTTP API sees them."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.builders.http_push import push_built_image
from tests.builders.layers import make_image, make_layer
from tests.e2e.test_scan_lifecycle import (
    _advisories,
    _advisory,
    _coverage,
    _image,
    _open_findings,
    _status,
    _until,
)
from tests.support.servers import Server


def _rules(continuous: list[str], on_push: list[str]) -> dict[str, object]:
    rules = [
        {
            "scanFrequency": frequency,
            "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters],
        }
        for frequency, filters in (("CONTINUOUS_SCAN", continuous), ("SCAN_ON_PUSH", on_push))
        if filters
    ]
    return {"scanType": "ENHANCED", "rules": rules}


def _configure(c: httpx.Client, body: dict[str, object]) -> None:
    assert c.put("/api/v1/registry/scanning-configuration", json=body).status_code == 200


def _ecr_status(c: httpx.Client, repo: str, ref: str) -> str:
    body = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings").json()
    return str(body["imageScanStatus"]["status"])


def _finding_arns(c: httpx.Client, repo: str, ref: str) -> set[str]:
    body = c.get(f"/api/v1/repositories/{repo}/images/{ref}/findings").json()
    return {f["findingArn"] for f in body["imageScanFindings"]["enhancedFindings"]}


def test_rule_changes_deactivation_and_reactivation(dockwatch: Server, tmp_path: Path) -> None:
    _advisories(dockwatch, tmp_path, _advisory("PYSEC-8-1", "theta", "2.0"))
    with dockwatch.client() as c:
        digests = {
            repo: push_built_image(c, repo, _image("theta", "1.0", repo), ["v1"])
            for repo in ("team-api", "team-web", "misc")
        }
        signature = make_image(
            [make_layer({"sig": "x"})],
            artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
        )
        sig = push_built_image(c, "team-api", signature, ["sig"])
        assert all(_coverage(c, repo) == {} for repo in digests)  # BASIC: no coverage
        # enhanced with a rule: the covered images are in coverage at once, the others too
        _configure(c, _rules(["team-*"], []))
        for repo in ("team-api", "team-web"):
            status = _status(c, repo, digests[repo])
            assert status is not None and status[0] == "ACTIVE"
        assert _status(c, "misc", digests["misc"]) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
        assert _ecr_status(c, "misc", "v1") == "FINDINGS_UNAVAILABLE"
        for repo in ("team-api", "team-web"):
            _until(lambda r=repo: _status(c, r, digests[r]) == ("ACTIVE", "SUCCESSFUL"))
            assert _open_findings(c, repo, "v1") == {"PYSEC-8-1"}
        assert set(_coverage(c, "team-api")) == {digests["team-api"]}  # never the signature
        assert sig not in _coverage(c, "team-api")
        # team-web moves to scan on push: findings kept, no longer rescanned
        _configure(c, _rules(["team-api"], ["team-web"]))
        assert _status(c, "team-web", digests["team-web"]) == (
            "ACTIVE",
            "SCAN_FREQUENCY_SCAN_ON_PUSH",
        )
        assert _ecr_status(c, "team-web", "v1") == "COMPLETE"
        assert _open_findings(c, "team-web", "v1") == {"PYSEC-8-1"}
        _advisories(dockwatch, tmp_path, _advisory("PYSEC-8-2", "theta", "1.5"))
        _until(lambda: _open_findings(c, "team-api", "v1") == {"PYSEC-8-1", "PYSEC-8-2"})
        assert _open_findings(c, "team-web", "v1") == {"PYSEC-8-1"}
        # team-web leaves every rule: findings closed, coverage says why
        _configure(c, _rules(["team-api"], []))
        assert _status(c, "team-web", digests["team-web"]) == ("INACTIVE", "SCAN_FREQUENCY_MANUAL")
        assert _open_findings(c, "team-web", "v1") == set()
        # deactivation: enhanced findings and coverage gone
        before = _finding_arns(c, "team-api", "v1")
        assert len(before) == 2
        _configure(c, {"scanType": "BASIC", "rules": []})
        assert _coverage(c, "team-api") == {}
        assert _finding_arns(c, "team-api", "v1") == set()
        # re-activation: scanned again, new findings with new ids
        _configure(c, _rules(["team-api"], []))
        _until(lambda: _status(c, "team-api", digests["team-api"]) == ("ACTIVE", "SUCCESSFUL"))
        _until(lambda: len(_finding_arns(c, "team-api", "v1")) == 2)
        assert _open_findings(c, "team-api", "v1") == {"PYSEC-8-1", "PYSEC-8-2"}
        assert _finding_arns(c, "team-api", "v1").isdisjoint(before)
