"""`--ignore-file` shapes: ignore list (YAML/JSON), OpenVEX, CycloneDX VEX."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.reports.findings.ignore import (
    IgnoreFileError,
    ImageIdentity,
    PackageSelector,
    load,
    parse,
)

from .sample import DIGEST, package

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
IMAGE = ImageIdentity(DIGEST, "team/app")


def _parse(doc: Any, image: ImageIdentity = IMAGE) -> Any:
    data = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    return parse(data, "test", image, NOW)


def test_yaml_ignore_list_with_dates_and_packages() -> None:
    result = _parse(
        """
ignore:
  - id: CVE-2024-0001
    package: requests
    reason: only used offline
    expires: 2026-12-31
  - id: cve-2024-0002
  - id: CVE-2020-1
    reason: old decision
    expires: 2026-06-14
  - id: CVE-2024-0009
    expires: 2026-06-15
"""
    )
    assert result.kind == "ignore list"
    ids = [sorted(r.ids)[0] for r in result.rules]
    assert ids == ["CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0009"]  # the one past its day is out
    assert result.rules[0].reason == "only used offline"
    assert result.rules[0].packages == (PackageSelector("requests"),)
    assert result.rules[1].reason  # a default reason, never empty
    assert len(result.warnings) == 1
    assert "CVE-2020-1" in result.warnings[0] and "expired on 2026-06-14" in result.warnings[0]


def test_json_ignore_list_and_times() -> None:
    result = _parse({"ignore": [{"id": "X-1", "expires": "2026-06-15T11:00:00Z"}]})
    assert result.rules == () and len(result.warnings) == 1


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"ignore": {"id": "x"}}, "must be a list"),
        ({"ignore": [{"reason": "r"}]}, "entry 1 has no `id`"),
        ({"ignore": [{"id": "x", "expires": "soon"}]}, "not a date"),
        ({"ignore": [{"id": "x", "pakage": "y"}]}, "unknown keys: pakage"),
        ({"ignore": [{"id": "x", "package": "pkg:"}]}, "bad purl"),
        ({"something": 1}, "expected an ignore list"),
        ([1, 2], "expected an ignore list"),
        ("a: [b", "neither JSON nor YAML"),
    ],
)
def test_malformed_files_are_clear_errors(doc: Any, problem: str) -> None:
    with pytest.raises(IgnoreFileError) as info:
        _parse(doc)
    assert isinstance(info.value, InvalidInput)
    assert problem in str(info.value)


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(IgnoreFileError, match="No such file"):
        load(tmp_path / "none.yaml", IMAGE, NOW)
    big = tmp_path / "big.json"
    with big.open("wb") as fh:
        fh.truncate(33 * 1024 * 1024)
    with pytest.raises(IgnoreFileError, match="more than"):
        load(big, IMAGE, NOW)


def test_selectors_match_names_purls_and_source_packages() -> None:
    requests = package("Requests", "2.19.0", "2.20.0")
    assert PackageSelector.parse("requests").matches(requests)
    assert PackageSelector.parse("pkg:pypi/requests").matches(requests)
    assert PackageSelector.parse("pkg:pypi/requests@2.19.0").matches(requests)
    assert not PackageSelector.parse("pkg:pypi/requests@2.18.0").matches(requests)
    assert not PackageSelector.parse("pkg:npm/requests").matches(requests)
    zope = package("zope.interface", "5.0", None)
    assert PackageSelector.parse("Zope_Interface").matches(zope)  # PEP 503
    ssl = package("libssl3", "3.0.11-1", None, purl_type="deb", manager="OS", source_name="openssl")
    assert PackageSelector.parse("openssl").matches(ssl)
    assert PackageSelector.parse("pkg:deb/debian/openssl").matches(ssl)
    assert not PackageSelector.parse("pkg:deb/ubuntu/openssl").matches(ssl)


def _openvex(*statements: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.org/vex-1",
        "author": "test",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": list(statements),
    }


def test_openvex_products_decide_the_scope() -> None:
    hexd = DIGEST.split(":")[1]
    result = _parse(
        _openvex(
            {  # this image by digest, two subcomponents
                "vulnerability": {"name": "CVE-2024-0001", "aliases": ["GHSA-xxxx-yyyy-zzzz"]},
                "products": [
                    {
                        "@id": f"pkg:oci/app@sha256%3A{hexd}",
                        "subcomponents": [{"@id": "pkg:pypi/requests@2.19.0"}],
                    }
                ],
                "status": "not_affected",
                "justification": "vulnerable_code_not_in_execute_path",
                "impact_statement": "requests is only imported by tests",
            },
            {  # this image by name, whole image
                "vulnerability": {"name": "CVE-2024-0002"},
                "products": [{"@id": "pkg:oci/app"}],
                "status": "fixed",
            },
            {  # a package anywhere
                "vulnerability": "CVE-2024-0003",
                "products": ["pkg:pypi/pyyaml@5.3"],
                "status": "not_affected",
            },
            {  # another image: not ours
                "vulnerability": {"name": "CVE-2024-0004"},
                "products": [{"@id": "pkg:oci/other@sha256%3A" + "cd" * 32}],
                "status": "not_affected",
            },
            {  # affected: never suppresses
                "vulnerability": {"name": "CVE-2024-0005"},
                "products": [{"@id": "pkg:oci/app"}],
                "status": "affected",
            },
        )
    )
    assert result.kind == "OpenVEX"
    rules = {sorted(r.ids)[0]: r for r in result.rules}
    assert set(rules) == {"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"}
    first = rules["CVE-2024-0001"]
    assert first.ids == {"CVE-2024-0001", "GHSA-XXXX-YYYY-ZZZZ"}
    assert first.packages == (PackageSelector("requests", "pypi", None, "2.19.0"),)
    assert first.justification == "code_not_reachable"
    assert first.reason == "requests is only imported by tests"
    assert rules["CVE-2024-0002"].packages == () and rules["CVE-2024-0002"].state == "fixed"
    assert rules["CVE-2024-0003"].packages == (PackageSelector("pyyaml", "pypi", None, "5.3"),)


def test_openvex_unknown_status_warns() -> None:
    result = _parse(
        _openvex({"vulnerability": "CVE-1", "products": ["pkg:oci/app"], "status": "meh"})
    )
    assert result.rules == () and "unknown status" in result.warnings[0]


def _cdx(vulns: list[dict[str, Any]], subject: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "component": subject or {"type": "container", "name": "app", "bom-ref": "img"}
        },
        "components": [
            {
                "type": "library",
                "name": "requests",
                "version": "2.19.0",
                "bom-ref": "c1",
                "purl": "pkg:pypi/requests@2.19.0",
                "components": [
                    {
                        "type": "library",
                        "name": "idna",
                        "bom-ref": "c2",
                        "purl": "pkg:pypi/idna@2.7",
                    }
                ],
            }
        ],
        "vulnerabilities": vulns,
    }


def test_cyclonedx_vex_resolves_refs() -> None:
    result = _parse(
        _cdx(
            [
                {
                    "id": "CVE-2024-0001",
                    "analysis": {"state": "not_affected", "justification": "code_not_present",
                                 "detail": "patched out"},
                    "affects": [{"ref": "c1"}, {"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#c2"}],
                },
                {"id": "CVE-2024-0002", "analysis": {"state": "false_positive"}, "affects": [{"ref": "img"}]},
                {"id": "CVE-2024-0003", "analysis": {"state": "resolved"}},
                {"id": "CVE-2024-0004", "analysis": {"state": "exploitable"}, "affects": [{"ref": "c1"}]},
                {"id": "CVE-2024-0006", "analysis": {"state": "not_affected"}, "affects": [{"ref": "nope"}]},
            ]
        )
    )  # fmt: skip
    assert result.kind == "CycloneDX VEX"
    rules = {sorted(r.ids)[0]: r for r in result.rules}
    assert set(rules) == {"CVE-2024-0001", "CVE-2024-0002", "CVE-2024-0003"}
    assert [s.name for s in rules["CVE-2024-0001"].packages] == ["requests", "idna"]
    assert rules["CVE-2024-0001"].justification == "code_not_present"
    assert rules["CVE-2024-0001"].reason == "patched out"
    assert (
        rules["CVE-2024-0002"].packages == () and rules["CVE-2024-0002"].state == "false_positive"
    )
    assert rules["CVE-2024-0003"].packages == ()
    assert len(result.warnings) == 1 and "'nope'" in result.warnings[0]


def test_cyclonedx_vex_about_another_image_does_not_apply() -> None:
    other = {"type": "container", "name": "x", "bom-ref": "img", "version": "sha256:" + "ee" * 32}
    result = _parse(
        _cdx(
            [{"id": "CVE-1", "analysis": {"state": "not_affected"}, "affects": [{"ref": "img"}]}],
            other,
        )
    )
    assert result.rules == ()


def test_yaml_aliases_are_refused() -> None:
    """A billion-laughs file is an error at once, not an exponential walk."""
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    with pytest.raises(IgnoreFileError, match="aliases are not allowed"):
        _parse(laughs + "ignore: *i\n")
