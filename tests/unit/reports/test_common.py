"""Naming the image, ordering and dating documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from packageurl import PackageURL

from dockwatch.reports.common import created_at, image_name, image_purl, image_tag
from dockwatch.reports.sbom import FORMATS, render
from tests.unit.reports.sbom.inventories import inventory


@pytest.mark.parametrize(
    ("reference", "name", "tag"),
    [
        ("oci:/var/tmp/corpus/debian-go:latest", "debian-go", "latest"),
        ("oci:/var/tmp/corpus/debian-go/", "debian-go", None),
        ("oci-archive:/tmp/img.tar:v1", "img", "v1"),
        ("docker-archive:/tmp/saved.tar", "saved", None),
        ("docker://127.0.0.1:5000/team/app:1.2", "team/app", "1.2"),
        ("docker://127.0.0.1:5000/app@sha256:" + "a" * 64, "app", None),
        ("docker://alpine", "alpine", None),
        ("dockwatch:prod/api:v3", "prod/api", "v3"),
    ],
)
def test_image_name_and_tag(reference: str, name: str, tag: str | None) -> None:
    assert image_name(reference) == name
    assert image_tag(reference) == tag


def test_image_purl_follows_the_oci_purl_type() -> None:
    digest = "sha256:" + "b" * 64
    remote = PackageURL.from_string(image_purl("docker://127.0.0.1:5000/team/app:1.2", digest))
    assert (remote.type, remote.namespace, remote.name, remote.version) == (
        "oci",
        None,
        "app",
        digest,
    )
    assert remote.qualifiers == {"repository_url": "127.0.0.1:5000/team/app", "tag": "1.2"}
    local = PackageURL.from_string(image_purl("oci:/x/Debian:latest", digest))
    assert (local.name, local.qualifiers) == ("debian", {"tag": "latest"})


def test_created_at_is_utc_whole_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    when = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert created_at(when) == datetime(2026, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert created_at().tzinfo is UTC
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert created_at() == datetime(1970, 1, 1, tzinfo=UTC)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown SBOM format"):
        render(inventory(), "xml")
    assert FORMATS == ("json", "cyclonedx-json", "spdx-json")
