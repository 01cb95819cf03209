"""ECR layer operations for clients that pull without `/v2`: BatchCheckLayerAvailability and
GetDownloadUrlForLayer (a URL of the `/v2` blob on this server)."""

from __future__ import annotations

from typing import Any

from dockwatch.api.aws.context import AwsContext, Handler
from dockwatch.api.aws.errors import AwsError
from dockwatch.model.digest import Digest

from .common import check_registry, invalid, repository_name, repository_row, run


def blob_url(ctx: AwsContext, name: str, digest: str) -> str:
    """The `/v2` URL of a blob on this server, from its configured address."""
    settings = ctx.services.settings
    scheme = "https" if settings.tls_cert is not None else "http"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{scheme}://{host}:{settings.port}/v2/{name}/blobs/{digest}"


async def batch_check_layer_availability(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """BatchCheckLayerAvailability: AVAILABLE with its size for a blob of the repository,
    a MissingLayerDigest failure for one it lacks."""
    check_registry(ctx, body)
    name = repository_name(body)

    def check() -> dict[str, Any]:
        layers: list[dict[str, Any]] = []
        failures: list[dict[str, Any]] = []
        asked: list[tuple[str, int | None]] = []
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            for digest in body.get("layerDigests") or []:
                size = uow.registry.linked_blob_size(repo.id, digest) if ":" in digest else None
                asked.append((digest, size))
        gone = ctx.services.blobs.missing([Digest(d) for d, size in asked if size is not None])
        for digest, size in asked:
            if ":" not in digest:
                failures.append({"layerDigest": digest, "failureCode": "InvalidLayerDigest",
                                 "failureReason": "Invalid layer digest"})  # fmt: skip
            elif size is None or digest in gone:
                failures.append({"layerDigest": digest, "failureCode": "MissingLayerDigest",
                                 "failureReason": "Layer digest not found"})  # fmt: skip
            else:
                layers.append({"layerDigest": digest, "layerAvailability": "AVAILABLE",
                               "layerSize": size, "mediaType": None})  # fmt: skip
        return {"layers": [{k: v for k, v in x.items() if v is not None} for x in layers],
                "failures": failures}  # fmt: skip

    return await run(check)


async def get_download_url_for_layer(ctx: AwsContext, body: dict[str, Any]) -> dict[str, Any]:
    """GetDownloadUrlForLayer: the `/v2` blob URL (it takes the registry's credentials)."""
    check_registry(ctx, body)
    name = repository_name(body)
    digest = body.get("layerDigest")
    if not isinstance(digest, str) or ":" not in digest:
        raise invalid(f"layerDigest {digest!r} is not a digest")

    def url() -> dict[str, Any]:
        with ctx.services.store.read() as uow:
            repo = repository_row(uow, ctx, name)
            size = uow.registry.linked_blob_size(repo.id, digest)
        if size is None or ctx.services.blobs.stat(Digest(digest)) is None:
            raise AwsError(
                "LayersNotFoundException",
                f"The layer with digest '{digest}' does not exist in the repository with name "
                f"'{name}' in the registry with id '{ctx.tenant.account_id}'",
            )
        return {"downloadUrl": blob_url(ctx, name, digest), "layerDigest": digest}

    return await run(url)


OPERATIONS: dict[str, Handler] = {
    "BatchCheckLayerAvailability": batch_check_layer_availability,
    "GetDownloadUrlForLayer": get_download_url_for_layer,
}
