"""The flows an ECR + Inspector user runs, with the real clients against a real server: the aws
CLI and boto3 create a repository and set enhanced scanning, `get-login-password` logs skopeo
in, the push is scanned, the findings are read through ECR and Inspector2, the configuration
and a suppression filter change them; a basic scan ends for ECR's own waiter; a lifecycle
policy expires an untagged image; two accounts do not see each other; a member of an
organization is refused what Inspector refuses members, and its delegated administrator reads
its findings. Every answer is checked against botocore's output shape.

The image and its advisory are `tests/builders/debian_zlib.py`'s: one OS finding, CVE-2099-1111,
in both scan types.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.builders.debian_zlib import ADVISORY, CVE, zlib_image
from tests.builders.layers import Image, write_oci_layout
from tests.support.aws import AccessKey, AwsEndpoint, aws_cli
from tests.support.botocore_shapes import assert_output
from tests.support.cli import db_import, dockwatch
from tests.support.servers import PASSWORD, USERNAME
from tests.support.skopeo import copy, skopeo

EXPECTED = {CVE}
CONTINUOUS_ALL = {
    "scanType": "ENHANCED",
    "rules": [
        {
            "scanFrequency": "CONTINUOUS_SCAN",
            "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
        }
    ],
}


def import_advisories(endpoint: AwsEndpoint, tmp: Path) -> None:
    """The zlib advisory, imported with `dockwatch db import` as an air-gapped site does."""
    folder = tmp / "advisories"
    folder.mkdir(exist_ok=True)
    (folder / f"{ADVISORY['id']}.json").write_text(json.dumps(ADVISORY))
    db_import(endpoint.server.data, folder)


def answer(response: dict[str, Any]) -> dict[str, Any]:
    """A boto3 answer without its ResponseMetadata."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout}s")
        time.sleep(0.2)


def host(endpoint: AwsEndpoint) -> str:
    return endpoint.url.removeprefix("http://").removeprefix("https://")


def login_password(endpoint: AwsEndpoint, key: AccessKey | None = None) -> str:
    """`aws ecr get-login-password`, as a pipeline runs it."""
    out = subprocess.run(
        [aws_cli(), "ecr", "get-login-password"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **endpoint.cli_env(key)},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def push(endpoint: AwsEndpoint, tmp: Path, image: Image, ref: str, password: str) -> None:
    """`skopeo login -u AWS -p TOKEN`, then `skopeo copy` of an OCI layout to `ref`."""
    home = tmp / "skopeo-home"
    skopeo("login", "--tls-verify=false", "-u", "AWS", "-p", password, host(endpoint), home=home)
    layout = write_oci_layout(tmp / f"layout-{image.digest[7:19]}", [image])
    copy(f"oci:{layout}:latest", f"docker://{host(endpoint)}/{ref}", home=home)


def advance_clock(endpoint: AwsEndpoint, seconds: float) -> None:
    """Move the test-mode server's clock (the passes run on the clock's minutes)."""
    r = httpx.post(
        f"{endpoint.url}/-/test/clock",
        json={"advanceSeconds": seconds},
        auth=(USERNAME, PASSWORD),
        timeout=30,
    )
    assert r.status_code == 200, r.text


def test_enhanced_scanning_flow_with_the_aws_cli_and_boto3(
    aws_server: AwsEndpoint, tmp_path: Path
) -> None:
    import_advisories(aws_server, tmp_path)
    created = aws_server.aws("ecr", "create-repository", "--repository-name", "web/app")
    assert created.returncode == 0, created.stderr
    repository = json.loads(created.stdout)["repository"]
    assert repository["repositoryName"] == "web/app"
    assert_output("ecr", "CreateRepository", json.loads(created.stdout))

    ecr = aws_server.client("ecr")
    put = ecr.put_registry_scanning_configuration(**CONTINUOUS_ALL)
    assert_output("ecr", "PutRegistryScanningConfiguration", answer(put))
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["scanType"] == (
        "ENHANCED"
    )

    image = zlib_image("enhanced")
    push(aws_server, tmp_path, image, "web/app:v1", login_password(aws_server))

    def scanned() -> dict[str, Any] | None:
        try:
            found = ecr.describe_image_scan_findings(
                repositoryName="web/app", imageId={"imageDigest": image.digest}
            )
        except ecr.exceptions.ScanNotFoundException:
            return None  # ECR's answer until the first scan has started
        done = found["imageScanStatus"]["status"] == "ACTIVE"
        return found if done and found["imageScanFindings"].get("enhancedFindings") else None

    findings = until(scanned, "the enhanced scan of web/app:v1")
    assert_output("ecr", "DescribeImageScanFindings", answer(findings))
    enhanced = findings["imageScanFindings"]["enhancedFindings"]
    assert {f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in enhanced} == EXPECTED
    described = ecr.describe_images(repositoryName="web/app")
    assert_output("ecr", "DescribeImages", answer(described))
    [detail] = described["imageDetails"]
    assert detail["imageDigest"] == image.digest and detail["imageTags"] == ["v1"]

    criteria = {"ecrImageRepositoryName": [{"comparison": "EQUALS", "value": "web/app"}]}
    listed = aws_server.aws(
        "inspector2", "list-findings", "--filter-criteria", json.dumps(criteria)
    )
    assert listed.returncode == 0, listed.stderr
    listed_doc = json.loads(listed.stdout)
    ids = {f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in listed_doc["findings"]}
    assert ids == EXPECTED
    assert {f["status"] for f in listed_doc["findings"]} == {"ACTIVE"}

    inspector = aws_server.client("inspector2")
    coverage = inspector.list_coverage(
        filterCriteria={"ecrRepositoryName": [{"comparison": "EQUALS", "value": "web/app"}]}
    )
    assert_output("inspector2", "ListCoverage", answer(coverage))
    image_rows = [
        c for c in coverage["coveredResources"] if c["resourceType"] == "AWS_ECR_CONTAINER_IMAGE"
    ]
    assert len(image_rows) == 1 and image_rows[0]["scanStatus"]["statusCode"] == "ACTIVE"

    updated = inspector.update_configuration(ecrConfiguration={"rescanDuration": "DAYS_30"})
    assert_output("inspector2", "UpdateConfiguration", answer(updated))
    configuration = inspector.get_configuration()
    assert_output("inspector2", "GetConfiguration", answer(configuration))
    state = configuration["ecrConfiguration"]["rescanDurationState"]
    assert state["rescanDuration"] == "DAYS_30"

    made = inspector.create_filter(
        action="SUPPRESS",
        name="accepted-zlib",
        filterCriteria={"vulnerabilityId": [{"comparison": "EQUALS", "value": CVE}]},
    )
    assert_output("inspector2", "CreateFilter", answer(made))
    filters = inspector.list_filters()
    assert made["arn"] in {f["arn"] for f in filters["filters"]}

    def suppressed() -> list[dict[str, Any]]:
        page = inspector.list_findings(
            filterCriteria={
                **criteria,
                "findingStatus": [{"comparison": "EQUALS", "value": "SUPPRESSED"}],
            }
        )
        return list(page["findings"])

    rows = until(suppressed, "the finding suppressed by the new filter")
    assert {f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in rows} == EXPECTED


def test_a_basic_scan_on_push_ends_for_ecrs_waiter(aws_server: AwsEndpoint, tmp_path: Path) -> None:
    import_advisories(aws_server, tmp_path)
    ecr = aws_server.client("ecr")
    ecr.put_registry_scanning_configuration(
        scanType="BASIC",
        rules=[
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    )
    ecr.create_repository(repositoryName="base")
    image = zlib_image("basic")
    push(aws_server, tmp_path, image, "base:12", login_password(aws_server))

    waiter = ecr.get_waiter("image_scan_complete")
    waiter.wait(
        repositoryName="base",
        imageId={"imageTag": "12"},
        WaiterConfig={"Delay": 1, "MaxAttempts": 120},
    )
    found = ecr.describe_image_scan_findings(repositoryName="base", imageId={"imageTag": "12"})
    assert_output("ecr", "DescribeImageScanFindings", answer(found))
    assert found["imageScanStatus"]["status"] == "COMPLETE"
    names = {f["name"] for f in found["imageScanFindings"]["findings"]}
    assert names == EXPECTED
    counts = found["imageScanFindings"]["findingSeverityCounts"]
    assert sum(counts.values()) == len(found["imageScanFindings"]["findings"])


def test_a_lifecycle_policy_expires_the_untagged_image(
    aws_server: AwsEndpoint, tmp_path: Path
) -> None:
    ecr = aws_server.client("ecr")
    ecr.create_repository(repositoryName="builds")
    password = login_password(aws_server)
    first, second, third = (zlib_image(f"build-{n}") for n in (1, 2, 3))
    for image in (first, second, third):  # the tag moves on: `first`, then `second` untagged
        push(aws_server, tmp_path, image, "builds:main", password)
        advance_clock(aws_server, 10)  # pushes seconds apart on the server's clock
    untagged = ecr.list_images(repositoryName="builds", filter={"tagStatus": "UNTAGGED"})
    assert {i["imageDigest"] for i in untagged["imageIds"]} == {first.digest, second.digest}

    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep one untagged image",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "imageCountMoreThan",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    put = ecr.put_lifecycle_policy(repositoryName="builds", lifecyclePolicyText=json.dumps(policy))
    assert_output("ecr", "PutLifecyclePolicy", answer(put))

    ecr.start_lifecycle_policy_preview(repositoryName="builds")

    def previewed() -> dict[str, Any] | None:
        got = ecr.get_lifecycle_policy_preview(repositoryName="builds")
        return got if got["status"] == "COMPLETE" else None

    preview = until(previewed, "the lifecycle preview")
    assert_output("ecr", "GetLifecyclePolicyPreview", answer(preview))
    assert [r["imageDigest"] for r in preview["previewResults"]] == [first.digest]

    # the periodic passes run once a minute of the server's clock (moved less than SigV4's skew)
    advance_clock(aws_server, 120)

    def expired() -> bool:
        left = ecr.list_images(repositoryName="builds", filter={"tagStatus": "ANY"})
        return {i["imageDigest"] for i in left["imageIds"]} == {second.digest, third.digest}

    until(expired, "the oldest untagged image expired by the policy")
    gone = ecr.batch_get_image(repositoryName="builds", imageIds=[{"imageDigest": first.digest}])
    assert [f["failureCode"] for f in gone["failures"]] == ["ImageNotFound"]


def _new_account(endpoint: AwsEndpoint, account_id: str, name: str) -> AccessKey:
    out = dockwatch(
        "accounts", "create", "--data", str(endpoint.server.data),
        "--account-id", account_id, "--name", name,
        env=endpoint.server.extra_env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return endpoint.new_key(account_id)


def test_two_accounts_do_not_see_each_other(aws_server: AwsEndpoint, tmp_path: Path) -> None:
    mine = aws_server.client("ecr")
    mine.create_repository(repositoryName="team-a/service")
    push(
        aws_server, tmp_path / "a", zlib_image("a"), "team-a/service:v1",
        login_password(aws_server),
    )  # fmt: skip

    other_key = _new_account(aws_server, "222222222222", "team-b")
    theirs = aws_server.client("ecr", key=other_key)
    assert theirs.describe_registry()["registryId"] == "222222222222"
    assert theirs.describe_repositories()["repositories"] == []
    assert (
        error_code(lambda: theirs.describe_images(repositoryName="team-a/service"))
        == "RepositoryNotFoundException"
    )
    theirs.create_repository(repositoryName="team-a/service")  # the same name, its own
    assert theirs.list_images(repositoryName="team-a/service")["imageIds"] == []
    assert [
        i["imageTag"] for i in mine.list_images(repositoryName="team-a/service")["imageIds"]
    ] == ["v1"]

    # B's registry login does not open A's repository
    other_password = login_password(aws_server, other_key)
    home = tmp_path / "b-home"
    skopeo("login", "--tls-verify=false", "-u", "AWS", "-p", other_password, host(aws_server),
           home=home)  # fmt: skip
    with pytest.raises(AssertionError):
        copy(
            f"docker://{host(aws_server)}/111111111111/team-a/service:v1",
            f"oci:{tmp_path / 'stolen'}:v1",
            home=home,
        )


def test_a_member_is_refused_and_its_delegated_administrator_reads_its_findings(
    aws_server: AwsEndpoint, tmp_path: Path
) -> None:
    import_advisories(aws_server, tmp_path)
    admin_key = _new_account(aws_server, "222222222222", "security")
    member_key = _new_account(aws_server, "333333333333", "product")
    management = aws_server.client("inspector2")
    enabled = management.enable_delegated_admin_account(delegatedAdminAccountId="222222222222")
    assert_output("inspector2", "EnableDelegatedAdminAccount", answer(enabled))

    admin = aws_server.client("inspector2", key=admin_key)
    associated = admin.associate_member(accountId="333333333333")
    assert_output("inspector2", "AssociateMember", answer(associated))
    members = admin.list_members()
    assert "333333333333" in {m["accountId"] for m in members["members"]}

    member = aws_server.client("inspector2", key=member_key)
    assert error_code(lambda: member.disable(resourceTypes=["ECR"])) == "AccessDeniedException"
    assert (
        error_code(
            lambda: member.update_configuration(ecrConfiguration={"rescanDuration": "DAYS_30"})
        )
        == "AccessDeniedException"
    )

    # the member's own registry scans continuously; its image gets the finding
    member_ecr = aws_server.client("ecr", key=member_key)
    member_ecr.put_registry_scanning_configuration(**CONTINUOUS_ALL)
    member_ecr.create_repository(repositoryName="shop")
    push(
        aws_server, tmp_path / "m", zlib_image("member"), "shop:v1",
        login_password(aws_server, member_key),
    )  # fmt: skip

    by_account = {"awsAccountId": [{"comparison": "EQUALS", "value": "333333333333"}]}

    def listed() -> list[dict[str, Any]]:
        return list(admin.list_findings(filterCriteria=by_account)["findings"])

    rows = until(listed, "the member's findings seen by the delegated administrator")
    assert {f["awsAccountId"] for f in rows} == {"333333333333"}
    assert {f["packageVulnerabilityDetails"]["vulnerabilityId"] for f in rows} == EXPECTED
    # the member itself sees them, the management account (not the administrator) does not
    assert member.list_findings()["findings"]
    assert management.list_findings(filterCriteria=by_account)["findings"] == []
