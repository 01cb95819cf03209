"""Input checks and output serialization driven by botocore's models."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.utils import parse_timestamp

from dockwatch.api.aws.shapes import check_input, operation_model, serialize_output
from tests.support.botocore_shapes import assert_output


def test_timestamps_leave_as_epoch_seconds_and_none_is_dropped() -> None:
    model = operation_model("ecr", "DescribeRepositories")
    assert model is not None
    at = datetime(2024, 5, 1, 12, 30, 15, 500000, tzinfo=UTC)
    out = serialize_output(
        model.output_shape,
        {"repositories": [{"repositoryName": "team/app", "createdAt": at, "registryId": None}]},
    )
    assert out == {"repositories": [{"repositoryName": "team/app", "createdAt": 1714566615.5}]}
    assert parse_timestamp(out["repositories"][0]["createdAt"]) == at
    assert_output("ecr", "DescribeRepositories", out)


def test_every_constraint_kind_is_reported_with_its_path() -> None:
    model = operation_model("ecr", "PutRegistryScanningConfiguration")
    assert model is not None
    rules = [
        {"scanFrequency": "HOURLY", "repositoryFilters": [{"filter": "UPPER", "filterType": "WILDCARD"}]},
        {"scanFrequency": "SCAN_ON_PUSH"},
        {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": []},
    ]  # fmt: skip
    _, problems = check_input(model.input_shape, {"scanType": "BASIC", "rules": rules})
    found = {(p.path, p.constraint.split(":")[0]) for p in problems}
    assert found == {
        ("rules", "Member must have length less than or equal to 2"),
        ("rules.1.member.scanFrequency", "Member must satisfy enum value set"),
        ("rules.1.member.repositoryFilters.1.member.filter",
         "Member must satisfy regular expression pattern"),
        ("rules.2.member.repositoryFilters", "Member must not be null"),
    }  # fmt: skip
    assert not any(p.wrong_type for p in problems)
    _, problems = check_input(model.input_shape, {"rules": "all"})
    assert [(p.path, p.wrong_type) for p in problems] == [("rules", True)]


def test_operations_botocore_lacks_are_none() -> None:
    assert operation_model("ecr", "NoSuchOperation") is None
