"""Small FilterCriteria documents and a hand-written Inspector finding, for the criteria tests."""

from __future__ import annotations

from typing import Any

EQ = "EQUALS"


def s(value: str, comparison: str = EQ) -> dict[str, str]:
    return {"comparison": comparison, "value": value}


def finding(**over: Any) -> dict[str, Any]:
    """A hand-written Inspector finding (the shape `shape.inspector_finding` produces)."""
    image = {
        "repositoryName": over.pop("repo", "prod-api"),
        "imageHash": "sha256:abc",
        "imageTags": over.pop("tags", ["latest", "v1"]),
        "pushedAt": over.pop("pushed", "2025-03-01T10:00:00+00:00"),
        "registry": "123456789012",
    }
    pvd = {
        "vulnerabilityId": over.pop("vuln", "CVE-2024-1"),
        "source": over.pop("source", "osv"),
        "vendorSeverity": over.pop("vendor", None),
        "relatedVulnerabilities": over.pop("related", ["GHSA-x"]),
        "vulnerablePackages": over.pop(
            "packages",
            [
                {"name": "openssl", "version": "3.0.1", "arch": "amd64", "epoch": 1},
                {"name": "zlib", "version": "1.2", "arch": "arm64", "epoch": None},
            ],
        ),
    }
    out = {
        "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/f1",
        "awsAccountId": "123456789012",
        "type": "PACKAGE_VULNERABILITY",
        "title": "CVE-2024-1 - openssl",
        "severity": "HIGH",
        "status": "ACTIVE",
        "fixAvailable": "YES",
        "exploitAvailable": "NO",
        "firstObservedAt": "2025-03-02T00:00:00+00:00",
        "lastObservedAt": "2025-03-03T00:00:00+00:00",
        "updatedAt": "2025-03-03T00:00:00+00:00",
        "inspectorScore": 7.5,
        "packageVulnerabilityDetails": pvd,
        "resources": [
            {
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "id": "arn:aws:ecr:us-east-1:123456789012:repository/prod-api/sha256:abc",
                "details": {"awsEcrContainerImage": image},
            }
        ],
    }
    out.update(over)
    return out
