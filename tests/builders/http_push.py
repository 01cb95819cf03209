"""Images built in code (`tests.builders.layers`) pushed to a running server over the OCI API,
as a client would: every layer and the config uploaded, then the manifest put under each tag."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from tests.builders.layers import Image
from tests.conformance.oci import OCI_MANIFEST, upload


def push_built_image(
    client: httpx.Client, repo: str, image: Image, tags: Sequence[str] = ("latest",)
) -> str:
    """Push `image` to `repo` under each of `tags` (a tag or the manifest digest); its digest."""
    for layer in image.layers:
        upload(client, repo, layer.blob)
    upload(client, repo, image.config)
    for tag in tags:
        r = client.put(
            f"/v2/{repo}/manifests/{tag}",
            content=image.manifest,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert r.status_code == 201, r.text
    return image.digest
