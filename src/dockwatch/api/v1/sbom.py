"""`GET /api/v1/repositories/{name}/images/{reference}/sbom?format=...` (Inspector's SBOM export).

The image is read straight from the stores and catalogued through the SQL layer cache, so a
second SBOM of an image, or of another image sharing its layers, reads no layer again.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import Response

from dockwatch.app import Services
from dockwatch.errors import InvalidInput

MEDIA_TYPES = {
    "json": "application/json",
    "cyclonedx-json": "application/vnd.cyclonedx+json; version=1.6",
    "spdx-json": "application/spdx+json",
}


class UnsupportedImage(InvalidInput):
    """The reference names an artifact (a signature, an attestation), not a runnable image."""


async def image_sbom(services: Services, request: Request) -> Any:
    """The SBOM of one stored image in the requested format."""
    from dockwatch.reports.sbom import FORMATS, render

    name = request.path_params["name"]
    reference = request.path_params["reference"]
    fmt = request.query_params.get("format", "json")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    platform = request.query_params.get("platform")

    def run() -> str:
        from dockwatch.catalog.service import ImageCataloguer
        from dockwatch.image.errors import NotRunnable, PlatformNotFound, ReferenceNotFound
        from dockwatch.image.sources import resolve
        from dockwatch.model.oci import Platform
        from dockwatch.registry.errors import ManifestUnknown
        from dockwatch.registry.reader import StoredImageReader

        services.registry.ctx.repository(name)  # RepositoryNotFoundException first
        reader = StoredImageReader(services.registry.ctx, name)
        try:
            image = resolve(
                reader,
                reference,
                Platform.parse(platform) if platform else None,
                reference=f"{name}:{reference}" if ":" not in reference else f"{name}@{reference}",
            )
        except ReferenceNotFound as exc:
            raise ManifestUnknown(reference) from exc
        except NotRunnable as exc:
            raise UnsupportedImage(str(exc)) from exc
        except PlatformNotFound as exc:
            raise InvalidInput(str(exc)) from exc
        cataloguer = ImageCataloguer(cache=services.catalog_cache, verify_blobs=False)
        return render(cataloguer.catalog(reader, image), fmt)

    text = await to_thread.run_sync(run)
    return Response(text, media_type=MEDIA_TYPES[fmt])
