"""Inspector's `CoverageFilterCriteria` (ListCoverage, ListCoverageStatistics) as typed values.

Pure values, so that storage builds SQL from them without importing the query surface.

Semantics (the same rules as findings criteria, `model.finding_criteria`):
- different keys are ANDed;
- the EQUALS filters of one key are ORed, its NOT_EQUALS filters are ANDed, and the two groups
  are ANDed; Inspector's coverage model allows no PREFIX;
- `ecrImageTags` holds EQUALS when some tag equals the value, NOT_EQUALS when none does (a
  repository resource has no tags);
- the date (and number) filters of one key are ORed, each a closed range;
- a value a resource does not have (a repository's `lastScannedAt`, any resource's
  `ecrImageLastInUseAt`, the EC2 / Lambda / code-repository / multi-cloud keys) fails EQUALS,
  date, number and map filters and passes NOT_EQUALS.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from enum import StrEnum

from dockwatch.value_class import frozen

IMAGE = "AWS_ECR_CONTAINER_IMAGE"
REPOSITORY = "AWS_ECR_REPOSITORY"

STRING_KEYS = (
    "scanStatusCode", "scanStatusReason", "accountId", "resourceId", "resourceType", "scanType",
    "ecrRepositoryName", "ecrImageTags", "lambdaFunctionName", "lambdaFunctionRuntime",
    "scanMode", "codeRepositoryProjectName", "codeRepositoryProviderType",
    "codeRepositoryProviderTypeVisibility", "lastScannedCommitId", "cloudProvider",
    "cloudProviderAccountId", "cloudProviderRegion", "cloudContainerImageTags",
    "cloudContainerRepositoryName", "cloudContainerRegistryName", "cloudServerlessFunctionName",
    "cloudServerlessFunctionRuntime", "cloudProviderOrgId",
)  # fmt: skip
"""Every `CoverageStringFilter` key of Inspector's model."""
DATE_KEYS = ("lastScannedAt", "imagePulledAt", "ecrImageLastInUseAt")
NUMBER_KEYS = ("ecrImageInUseCount",)
MAP_KEYS = (
    "ec2InstanceTags", "lambdaFunctionTags", "machineImageTags", "cloudVmInstanceTags",
    "cloudServerlessFunctionTags",
)  # fmt: skip

COVERED_STRING_KEYS = frozenset(
    {
        "scanStatusCode", "scanStatusReason", "accountId", "resourceId", "resourceType",
        "scanType", "ecrRepositoryName", "ecrImageTags",
    }
)  # fmt: skip
"""String keys an ECR image or repository has a value for; the others are absent on them."""
COVERED_DATE_KEYS = frozenset({"lastScannedAt", "imagePulledAt"})


class CoverageComparison(StrEnum):
    """`CoverageStringComparison`."""

    EQUALS = "EQUALS"
    NOT_EQUALS = "NOT_EQUALS"


class GroupKey(StrEnum):
    """The `groupBy` values of ListCoverageStatistics that apply to ECR resources."""

    SCAN_STATUS_CODE = "SCAN_STATUS_CODE"
    SCAN_STATUS_REASON = "SCAN_STATUS_REASON"
    ACCOUNT_ID = "ACCOUNT_ID"
    RESOURCE_TYPE = "RESOURCE_TYPE"
    ECR_REPOSITORY_NAME = "ECR_REPOSITORY_NAME"


@frozen
class CoverageString:
    """One `CoverageStringFilter`."""

    comparison: CoverageComparison
    value: str


@frozen
class CoverageRange:
    """One `CoverageDateFilter` (datetimes) or `CoverageNumberFilter` (integers); None: open."""

    low: datetime | int | None
    high: datetime | int | None


@frozen
class CoverageMap:
    """One `CoverageMapFilter` (EQUALS on a tag key and value)."""

    key: str
    value: str | None


@frozen
class CoverageCriteria:
    """A validated `CoverageFilterCriteria`; an empty one selects every covered resource."""

    strings: dict[str, tuple[CoverageString, ...]] = field(default_factory=dict)
    ranges: dict[str, tuple[CoverageRange, ...]] = field(default_factory=dict)
    """Date and number keys."""
    maps: dict[str, tuple[CoverageMap, ...]] = field(default_factory=dict)
