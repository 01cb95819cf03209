"""Fixtures of the repository contract suites: a store per backend (SQLite here; PostgreSQL
joins the parameters when it lands), and images pushed through the registry service so that
the suites do not depend on how a backend keeps registry rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dockwatch.app import Services, build
from dockwatch.config import Settings
from dockwatch.model.digest import Digest
from tests.builders.layers import Image, make_image, make_layer, sha256

OCI = "application/vnd.oci.image.manifest.v1+json"


@pytest.fixture(params=["sqlite"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    """Services over a fresh data folder of the backend under test."""
    assert request.param == "sqlite"
    built = build(Settings(data_dir=tmp_path / "data"))
    try:
        yield built
    finally:
        built.close()


def push(services: Services, repository: str, image: Image, tag: str = "latest") -> str:
    """Push `image` through the registry service; its manifest digest."""
    uploads = services.registry.uploads
    for blob in (image.config, *(layer.blob for layer in image.layers)):
        upload_id = uploads.start(repository)
        writer = uploads.claim(repository, upload_id)
        try:
            writer.write(blob)
            uploads.complete(repository, upload_id, writer, Digest(sha256(blob)))
        finally:
            uploads.release(upload_id, writer)
    return services.registry.manifests.put(repository, tag, image.manifest, OCI).digest


def image(seed: str) -> Image:
    """A distinct small image."""
    return make_image([make_layer({"seed": seed})])


def repository_id(services: Services, name: str) -> int:
    """The id the registry gave repository `name`."""
    return services.registry.ctx.repository(name).id
