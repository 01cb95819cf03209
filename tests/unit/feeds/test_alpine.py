"""Alpine secdb JSON: fixes per branch and repository, `0` for never affected."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockwatch.feeds.alpine import parse_files, split_entry
from dockwatch.feeds.feed import FeedFormatError, ParseProblem
from dockwatch.model.advisory import Advisory, AffectedStatus
from tests.builders import feeds as b


def _files(tmp_path: Path, docs: dict[str, bytes]) -> list[tuple[Path, str]]:
    out = []
    for label, data in docs.items():
        p = tmp_path / (label.replace("/", "-") + ".json")
        p.write_bytes(data)
        out.append((p, label))
    return out


def _parse(files: list[tuple[Path, str]]) -> tuple[dict[str, Advisory], list[ParseProblem]]:
    items = list(parse_files(files))
    return (
        {x.id: x for x in items if isinstance(x, Advisory)},
        [x for x in items if isinstance(x, ParseProblem)],
    )


@pytest.fixture
def example(tmp_path: Path) -> list[tuple[Path, str]]:
    return _files(tmp_path, {
        "v3.19/main": b.alpine_secdb("v3.19", "main", b.ALPINE_MAIN_V319),
        "v3.19/community": b.alpine_secdb("v3.19", "community", b.ALPINE_COMMUNITY_V319),
        "v3.20/main": b.alpine_secdb("v3.20", "main", b.ALPINE_MAIN_V320),
    })  # fmt: skip


def test_documented_example(example: list[tuple[Path, str]]) -> None:
    advs, probs = _parse(example)
    assert probs == []
    expected_ids = {
        "CVE-2023-5678", "CVE-2023-5363", "CVE-2023-3817", "CVE-2020-1967", "CVE-2022-3996",
        "CVE-2018-7540", "XSA-248", "CVE-2017-17439", "CVE-2016-10140", "CVE-2017-5595",
        "CVE-2022-48174", "CVE-2024-4577", "CVE-2024-5458", "CVE-2024-6119",
    }  # fmt: skip
    assert set(advs) == expected_ids
    both = advs["CVE-2023-5678"]
    assert [(a.ecosystem, a.name, a.fixed_versions) for a in both.affected] == [
        ("Alpine:v3.19", "openssl", ("3.1.4-r1",)),
        ("Alpine:v3.20", "openssl", ("3.1.4-r1",)),
    ]
    never = advs["CVE-2022-3996"].affected[0]
    assert never.status is AffectedStatus.NOT_AFFECTED and never.ranges == ()
    assert advs["CVE-2018-7540"].aliases == ("XSA-252",)
    assert advs["CVE-2024-4577"].affected[0].name == "php83"
    assert all(a.source == "alpine" for a in advs.values())


def test_split_entry() -> None:
    assert split_entry("CVE-2018-7540 XSA-252") == [("CVE-2018-7540", ("XSA-252",))]
    assert split_entry("CVE-2019-1000 CVE-2019-2000") == [
        ("CVE-2019-1000", ()),
        ("CVE-2019-2000", ()),
    ]
    assert split_entry("XSA-248") == [("XSA-248", ())]
    assert split_entry("   ") == []


def test_malformed(tmp_path: Path) -> None:
    docs = {
        "v3.19/main": b.alpine_secdb("v3.19", "main", [
            ("ok", {"1.0-r0": ["CVE-2099-0001"]}),
            ("list-secfixes", ["CVE-2099-0002"]),
            ("absurd", {"x" * 1000: ["CVE-2099-0003"]}),
            ("ids-not-list", {"1.0-r0": "CVE-2099-0004"}),
        ]),
    }  # fmt: skip
    advs, probs = _parse(_files(tmp_path, docs))
    assert set(advs) == {"CVE-2099-0001"} and len(probs) == 3
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"[]")
    with pytest.raises(FeedFormatError):
        list(parse_files([(bad, "")]))
    bad.write_bytes(b'{"distroversion": "v3.19", "packages": ')
    with pytest.raises(FeedFormatError):
        list(parse_files([(bad, "")]))


def test_generated_file(tmp_path: Path) -> None:
    advs, probs = _parse(_files(tmp_path, {"v3.21/main": b.generated_alpine("v3.21", "main", 300)}))
    assert probs == [] and len(advs) > 1000
    assert {a.ecosystem for adv in advs.values() for a in adv.affected} == {"Alpine:v3.21"}


def test_edge_branch_is_the_edge_release(tmp_path: Path) -> None:
    path = tmp_path / "edge-main.json"
    path.write_bytes(b.alpine_secdb("edge", "main", b.ALPINE_MAIN_V319))
    advs, probs = _parse([(path, "edge/main")])
    assert probs == []
    assert {a.ecosystem for adv in advs.values() for a in adv.affected} == {"Alpine:edge"}
