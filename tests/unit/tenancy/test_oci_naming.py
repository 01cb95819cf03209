"""How a /v2 request names another account's registry (host label or path prefix) and which
ECR action each request stands for (the action a repository policy must allow)."""

from __future__ import annotations

import pytest

from dockwatch.api.oci.tenancy import ecr_action, split_target
from dockwatch.model.identity import Tenant

ME = Tenant("000000000000", "us-east-1")
OTHER = Tenant("111111111111", "us-east-1")


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("127.0.0.1:5000", "/v2/app/manifests/1", (ME, "/v2/app/manifests/1", None)),
        ("127.0.0.1:5000", "/v2/111111111111/app/manifests/1",
         (OTHER, "/v2/app/manifests/1", "/v2/111111111111")),
        ("127.0.0.1:5000", "/v2/000000000000/team/app/blobs/uploads/",
         (ME, "/v2/team/app/blobs/uploads/", "/v2/000000000000")),
        ("111111111111.dkr.example:5000", "/v2/app/manifests/1", (OTHER, "/v2/app/manifests/1", None)),
        ("127.0.0.1:5000", "/v2/_catalog", (ME, "/v2/_catalog", None)),
        ("127.0.0.1:5000", "/v2/11111111111/app/tags/list", (ME, "/v2/11111111111/app/tags/list", None)),
    ],
)  # fmt: skip
def test_split_target(host: str, path: str, expected: tuple[Tenant, str, str | None]) -> None:
    assert split_target(host, path, ME) == expected


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("GET", "/v2/a/manifests/latest", "ecr:BatchGetImage"),
        ("HEAD", "/v2/a/manifests/latest", "ecr:BatchGetImage"),
        ("PUT", "/v2/a/manifests/latest", "ecr:PutImage"),
        ("GET", "/v2/a/blobs/sha256:" + "0" * 64, "ecr:GetDownloadUrlForLayer"),
        ("HEAD", "/v2/a/blobs/sha256:" + "0" * 64, "ecr:BatchCheckLayerAvailability"),
        ("POST", "/v2/a/blobs/uploads/", "ecr:InitiateLayerUpload"),
        ("PATCH", "/v2/a/blobs/uploads/u1", "ecr:UploadLayerPart"),
        ("PUT", "/v2/a/blobs/uploads/u1", "ecr:CompleteLayerUpload"),
        ("GET", "/v2/a/tags/list", "ecr:ListImages"),
        ("DELETE", "/v2/a/manifests/sha256:" + "0" * 64, "ecr:BatchDeleteImage"),
        ("GET", "/v2/", None),
        ("POST", "/v2/a/tags/list", None),
    ],
)
def test_ecr_action(method: str, path: str, action: str | None) -> None:
    assert ecr_action(method, path) == action
