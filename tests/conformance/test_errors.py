"""Error codes, names and authentication."""

from __future__ import annotations

import httpx
import pytest

from dockwatch.api.oci.codes import CODES, error_for
from dockwatch.registry import errors as e
from dockwatch.registry.names import NameInvalid, TagInvalid
from tests.support.servers import Server

from .oci import error_codes, push_image


def test_api_version_check(registry: Server) -> None:
    with registry.client() as c:
        r = c.get("/v2/")
        assert r.status_code == 200
        assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_authentication_required(dockwatch: Server) -> None:
    for auth in (None, ("tester", "wrong"), ("nobody", "s3cret-pass")):
        r = httpx.get(f"{dockwatch.url}/v2/", auth=auth)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Basic ")
        assert error_codes(r) == ["UNAUTHORIZED"]
    assert httpx.get(f"{dockwatch.url}/healthz").status_code == 200


@pytest.mark.parametrize(
    "name",
    ["Upper", "double//slash", "trailing/", "-leading", "a" * 256, "under___three", "dot./x"],
)
def test_invalid_repository_names(dockwatch: Server, name: str) -> None:
    """Names outside the grammar are NAME_INVALID (distribution answers a plain 404 page)."""
    with dockwatch.client() as c:
        r = c.post(f"/v2/{name}/blobs/uploads/")
        assert r.status_code == 400, r.text
        assert error_codes(r) == ["NAME_INVALID"]


def test_invalid_tag_on_push(dockwatch: Server) -> None:
    with dockwatch.client() as c:
        _, manifest = push_image(c, "err/tag", "ok")
        r = c.put(
            "/v2/err/tag/manifests/-bad",
            content=manifest,
            headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        assert r.status_code == 400
        assert error_codes(r) == ["TAG_INVALID"]


def test_error_table_is_complete() -> None:
    """Every registered code has a status and a description; every domain error maps to one."""
    for code in CODES.values():
        assert 400 <= code.status < 600 and code.message and code.description
    spec_codes = {
        "BLOB_UNKNOWN",
        "BLOB_UPLOAD_INVALID",
        "BLOB_UPLOAD_UNKNOWN",
        "DIGEST_INVALID",
        "MANIFEST_BLOB_UNKNOWN",
        "MANIFEST_INVALID",
        "MANIFEST_UNKNOWN",
        "NAME_INVALID",
        "NAME_UNKNOWN",
        "SIZE_INVALID",
        "UNAUTHORIZED",
        "DENIED",
        "UNSUPPORTED",
        "TOOMANYREQUESTS",
    }
    assert spec_codes <= set(CODES)
    samples: list[BaseException] = [
        e.NameUnknown("x"),
        e.BlobUnknown("sha256:0"),
        e.BlobUploadUnknown("u"),
        e.BlobUploadInvalid("r"),
        e.DigestInvalidError("d"),
        e.SizeInvalid("s"),
        e.ManifestUnknown("m"),
        e.ManifestBlobUnknown(["sha256:0"]),
        e.ManifestInvalidError("i"),
        e.TagInvalidError("t"),
        e.Denied("d"),
        e.Unsupported("u"),
        e.PaginationInvalid("p"),
        NameInvalid("X", "r"),
        TagInvalid("-t"),
    ]
    for exc in samples:
        assert error_for(exc).code != "UNKNOWN", exc
