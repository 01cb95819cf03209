"""Manifest parsers: any bytes give a parsed manifest or ManifestInvalid, nothing else."""

from __future__ import annotations

import pytest

from dockwatch.image import errors as image_errors
from dockwatch.model import oci
from tests.fuzz.harness import corpus, fuzz

CONTENT_TYPES = (
    None,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_pushed_manifest_parser(content_type: str | None, fuzz_seconds: float) -> None:
    fuzz(
        lambda data: oci.parse_manifest(data, content_type),
        corpus("manifest"),
        (oci.ManifestInvalid,),
        fuzz_seconds / len(CONTENT_TYPES),
    )


def test_image_manifest_parser(fuzz_seconds: float) -> None:
    fuzz(
        lambda data: oci.parse_manifest(data, strict=False),
        corpus("manifest"),
        (image_errors.ManifestInvalid,),
        fuzz_seconds,
    )
