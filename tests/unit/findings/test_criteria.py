"""FilterCriteria documents: parsing, validation errors naming the field, the wire form."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.errors import InvalidInput
from dockwatch.findings.criteria import InvalidCriteria, parse_criteria
from dockwatch.model.finding_criteria import Comparison, StringFilter
from tests.unit.queries.criteria_docs import EQ, s


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"severty": [s("HIGH")]}, "filterCriteria.severty", "unknown filter criterion"),
        ({"resourceTags": []}, "filterCriteria.resourceTags", "not supported"),
        ({"lambdaFunctionName": [s("f")]}, "filterCriteria.lambdaFunctionName", "not supported"),
        ({"severity": s("HIGH")}, "filterCriteria.severity", "list of filters"),
        ({"severity": []}, "filterCriteria.severity", "1 to 10"),
        ({"severity": [s("HIGH")] * 11}, "filterCriteria.severity", "1 to 10"),
        (
            {"severity": [{"comparison": "LIKE", "value": "HIGH"}]},
            "filterCriteria.severity[0].comparison",
            "EQUALS, PREFIX, NOT_EQUALS",
        ),
        (
            {"severity": [{"value": "HIGH"}]},
            "filterCriteria.severity[0].comparison",
            "required",
        ),
        ({"severity": [s("high")]}, "filterCriteria.severity[0].value", "not one of"),
        ({"findingStatus": [s("OPEN")]}, "filterCriteria.findingStatus[0].value", "ACTIVE"),
        ({"vulnerabilityId": [s("")]}, "filterCriteria.vulnerabilityId[0].value", "1 to 1024"),
        ({"title": [s("x" * 1025)]}, "filterCriteria.title[0].value", "1 to 1024"),
        ({"title": [{"comparison": EQ, "value": 3}]}, "filterCriteria.title[0].value", "string"),
        ({"title": [s("a\x00b")]}, "filterCriteria.title[0].value", "NUL"),
        (
            {"title": [{**s("a"), "extra": 1}]},
            "filterCriteria.title[0].extra",
            "unknown field",
        ),
        (
            {"firstObservedAt": [{"startInclusive": 20, "endInclusive": 10}]},
            "filterCriteria.firstObservedAt[0]",
            "after endInclusive",
        ),
        (
            {"updatedAt": [{"startInclusive": "yesterday"}]},
            "filterCriteria.updatedAt[0].startInclusive",
            "ISO 8601",
        ),
        (
            {"inspectorScore": [{"lowerInclusive": 9, "upperInclusive": 1}]},
            "filterCriteria.inspectorScore[0]",
            "above upperInclusive",
        ),
        (
            {"epssScore": [{"lowerInclusive": "0.5"}]},
            "filterCriteria.epssScore[0].lowerInclusive",
            "number",
        ),
        (
            {"epssScore": [{"lowerInclusive": float("nan")}]},
            "filterCriteria.epssScore[0].lowerInclusive",
            "finite",
        ),
        ({"vulnerablePackages": [{}]}, "filterCriteria.vulnerablePackages[0]", "no package"),
        (
            {"vulnerablePackages": [{"sourceLambdaLayerArn": s("x")}]},
            "filterCriteria.vulnerablePackages[0].sourceLambdaLayerArn",
            "not supported",
        ),
        (
            {"vulnerablePackages": [{"name": s("x", "CONTAINS")}]},
            "filterCriteria.vulnerablePackages[0].name.comparison",
            "EQUALS",
        ),
        ([], "filterCriteria", "object"),
    ],
)
def test_invalid_criteria_name_the_field(doc: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidCriteria) as info:
        parse_criteria(doc)
    assert info.value.field == field
    assert words in str(info.value)
    assert isinstance(info.value, InvalidInput)  # answered as a 400 ValidationException


def test_prefix_skips_the_enum_check() -> None:
    c = parse_criteria({"severity": [s("CRIT", "PREFIX")]})
    assert c.strings["severity"] == (StringFilter(Comparison.PREFIX, "CRIT"),)


def test_times_as_epoch_seconds_or_iso() -> None:
    a = parse_criteria({"updatedAt": [{"startInclusive": 1740787200}]})
    b = parse_criteria({"updatedAt": [{"startInclusive": "2025-03-01T00:00:00Z"}]})
    c = parse_criteria({"updatedAt": [{"startInclusive": "2025-03-01T01:00:00+01:00"}]})
    assert a == b == c
    assert a.dates["updatedAt"][0].start == datetime(2025, 3, 1, tzinfo=UTC)


_doc_values = st.text(st.characters(codec="utf-8", blacklist_characters="\x00"), min_size=1)


@settings(max_examples=100)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "vulnerabilityId": st.lists(
                st.builds(s, _doc_values, st.sampled_from(("EQUALS", "PREFIX", "NOT_EQUALS"))),
                min_size=1,
                max_size=3,
            ),
            "inspectorScore": st.lists(
                st.fixed_dictionaries({}, optional={"lowerInclusive": st.floats(0, 5)}),
                min_size=1,
                max_size=2,
            ),
            "lastObservedAt": st.lists(
                st.fixed_dictionaries({}, optional={"endInclusive": st.integers(0, 2_000_000_000)}),
                min_size=1,
                max_size=2,
            ),
            "vulnerablePackages": st.lists(
                st.fixed_dictionaries(
                    {"name": st.builds(s, _doc_values)},
                    optional={"epoch": st.fixed_dictionaries({"upperInclusive": st.floats(0, 9)})},
                ),
                min_size=1,
                max_size=2,
            ),
        },
    )
)
def test_to_wire_reads_back(doc: dict[str, Any]) -> None:
    c = parse_criteria(doc)
    assert parse_criteria(c.to_wire()) == c


# --- query parameters -------------------------------------------------------------------------
