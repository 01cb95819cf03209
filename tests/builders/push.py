"""Images pushed in process through the registry service, as a client's push would store them.

Tests that need an image in the registry (and the scans a push starts) use these instead of
writing registry rows themselves, so they follow the service's rules.
"""

from __future__ import annotations

from dockwatch.app import Services
from dockwatch.model.digest import Digest
from tests.builders.layers import Image, sha256

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def upload_blob(services: Services, repo: str, data: bytes) -> None:
    """Upload `data` as one blob of `repo` (a monolithic upload session)."""
    uploads = services.registry.uploads
    upload_id = uploads.start(repo)
    writer = uploads.claim(repo, upload_id)
    try:
        writer.write(data)
        uploads.complete(repo, upload_id, writer, Digest(sha256(data)))
    finally:
        uploads.release(upload_id, writer)


def push_image(services: Services, repo: str, image: Image, tag: str = "latest") -> str:
    """Upload the image's config and layers, then put its manifest under `tag` (a tag or the
    manifest digest); the stored manifest digest."""
    for blob in (image.config, *(layer.blob for layer in image.layers)):
        upload_blob(services, repo, blob)
    return services.registry.manifests.put(repo, tag, image.manifest, OCI_MANIFEST).digest
