"""The OVAL reader on real vendor files, on hostile documents, and on criteria shapes."""

from __future__ import annotations

import bz2
import re
from pathlib import Path

import pytest

from dockwatch.feeds import oval
from dockwatch.feeds.feed import FeedFormatError

DATA = Path(__file__).parents[2] / "data" / "feeds"
ORACLE_2026 = DATA / "oracle" / "com.oracle.elsa-2026.xml"
MARINER_1 = DATA / "azurelinux" / "cbl-mariner-1.0-oval.xml"
CAP = 1 << 20

_EARLIER = re.compile(r'comment="([^" ]+) is earlier than ([^"]+)"')


def _checks(path: Path) -> set[tuple[str, str]]:
    doc = oval.read(path, feed="test", max_bytes=CAP)
    return {(c.name, c.evr) for d in doc.definitions for c in oval.package_checks(d, doc.tests)}


def test_every_version_criterion_of_the_real_files_becomes_a_check() -> None:
    for path in [ORACLE_2026, DATA / "oracle" / "com.oracle.elsa-2019.xml"]:
        text = path.read_text()
        criteria = text[text.index("<definitions>") : text.index("</definitions>")]
        expected = set(_EARLIER.findall(criteria))
        assert expected and _checks(path) == expected


def test_gates_on_each_path_name_the_release_and_the_architecture() -> None:
    doc = oval.read(ORACLE_2026, feed="test", max_bytes=CAP)
    (definition,) = doc.definitions
    assert definition.severity == "IMPORTANT" and definition.issued == "2026-06-04"
    assert definition.cves == ("CVE-2025-38085", "CVE-2025-54518")
    paths = set()
    for c in oval.package_checks(definition, doc.tests):
        comments = {t.comment for group in c.gates for t in group}
        release = next(x for x in comments if x.endswith("is installed"))
        arch = next(x for x in comments if "arch is" in x)
        paths.add((c.name, c.evr.rsplit(".", 1)[1], release, arch))
    assert len(paths) == 8  # 2 packages x 2 releases x 2 architectures
    assert (
        "bpftool",
        "el9uek",
        "Oracle Linux 9 is installed",
        "Oracle Linux arch is aarch64",
    ) in paths
    assert not any(p[1] == "el8uek" and "9" in p[2] for p in paths)  # each release its own evr


def test_microsoft_definitions_and_no_fix_operation() -> None:
    doc = oval.read(MARINER_1, feed="test", max_bytes=CAP)
    by_title = {d.title.split(" affecting")[0]: d for d in doc.definitions}
    syslinux = next(oval.package_checks(by_title["CVE-2022-3857"], doc.tests))
    assert (syslinux.name, syslinux.operation, syslinux.evr) == (
        "syslinux",
        "less than or equal",
        "0:6.04-9.cm1",
    )
    assert ("patchable", "false") in by_title["CVE-2022-3857"].extra


def test_bz2_and_plain_read_the_same(tmp_path: Path) -> None:
    packed = tmp_path / "com.oracle.elsa-all.xml.bz2"
    packed.write_bytes(bz2.compress(ORACLE_2026.read_bytes()))
    assert _checks(packed) == _checks(ORACLE_2026)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE oval_definitions [
 <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5">
<definitions><definition id="x" class="patch"><metadata><title>&d;&d;&d;&d;</title></metadata>
</definition></definitions></oval_definitions>
"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE oval_definitions [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<oval_definitions><definitions><definition id="x"><metadata><title>&e;</title></metadata>
</definition></definitions></oval_definitions>
"""


@pytest.mark.parametrize("body", [BOMB, EXTERNAL], ids=["entity-bomb", "external-entity"])
def test_entity_declarations_are_refused_before_expanding(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "hostile.xml"
    path.write_bytes(body)
    with pytest.raises(FeedFormatError, match="unusable OVAL document: DTD"):
        oval.read(path, feed="oracle", max_bytes=CAP)


def test_a_document_over_the_cap_is_refused_even_when_compressed(tmp_path: Path) -> None:
    filler = b"<!--" + b"x" * (4 * CAP) + b"-->"
    body = ORACLE_2026.read_bytes().replace(b"<definitions>", b"<definitions>" + filler, 1)
    path = tmp_path / "big.xml.bz2"
    path.write_bytes(bz2.compress(body))
    assert path.stat().st_size < CAP // 10
    with pytest.raises(FeedFormatError, match="exceeds"):
        oval.read(path, feed="oracle", max_bytes=CAP)


@pytest.mark.parametrize(
    "body",
    [b"<html><body/></html>", b"<oval_definitions><definitions>", b"not xml at all"],
    ids=["not-oval", "cut-off", "garbage"],
)
def test_malformed_documents_raise_a_feed_format_error(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(body)
    with pytest.raises(FeedFormatError):
        oval.read(path, feed="oracle", max_bytes=CAP)


def _doc(criteria: str) -> str:
    return f"""<oval_definitions xmlns="http://oval.mitre.org/XMLSchema/oval-definitions-5"
 xmlns:l="http://oval.mitre.org/XMLSchema/oval-definitions-5#linux">
<definitions><definition id="d" class="patch"><metadata><title>t</title></metadata>
{criteria}</definition></definitions>
<tests>
<l:rpminfo_test id="r8" comment="Oracle Linux 8 is installed"><l:object object_ref="o0"/>
<l:state state_ref="s8"/></l:rpminfo_test>
<l:rpminfo_test id="r9" comment="Oracle Linux 9 is installed"><l:object object_ref="o0"/>
<l:state state_ref="s9"/></l:rpminfo_test>
<l:rpminfo_test id="p" comment="zlib is earlier than 0:1.2.11-40.el9"><l:object object_ref="o1"/>
<l:state state_ref="sv"/></l:rpminfo_test>
</tests>
<objects><l:rpminfo_object id="o0"><l:name>oraclelinux-release</l:name></l:rpminfo_object>
<l:rpminfo_object id="o1"><l:name>zlib</l:name></l:rpminfo_object></objects>
<states><l:rpminfo_state id="s8"><l:version operation="pattern match">^8</l:version></l:rpminfo_state>
<l:rpminfo_state id="s9"><l:version operation="pattern match">^9</l:version></l:rpminfo_state>
<l:rpminfo_state id="sv"><l:evr datatype="evr_string" operation="less than">0:1.2.11-40.el9</l:evr>
</l:rpminfo_state></states></oval_definitions>"""


def test_an_or_of_gates_is_one_group_of_alternatives(tmp_path: Path) -> None:
    path = tmp_path / "or.xml"
    path.write_text(
        _doc(
            '<criteria operator="AND"><criteria operator="OR">'
            '<criterion test_ref="r8"/><criterion test_ref="r9"/></criteria>'
            '<criterion test_ref="p"/></criteria>'
        )
    )
    doc = oval.read(path, feed="test", max_bytes=CAP)
    (check,) = oval.package_checks(doc.definitions[0], doc.tests)
    assert [[t.states[0].version for t in g] for g in check.gates] == [
        [("pattern match", "^8"), ("pattern match", "^9")]
    ]


@pytest.mark.parametrize(
    "criteria",
    [
        '<criteria operator="AND"><criterion test_ref="p" negate="true"/></criteria>',
        '<criteria operator="AND"><criterion test_ref="missing"/></criteria>',
        '<criteria operator="XOR"><criterion test_ref="p"/></criteria>',
    ],
    ids=["negated", "unknown-test", "xor"],
)
def test_criteria_the_reader_cannot_evaluate_are_reported(tmp_path: Path, criteria: str) -> None:
    path = tmp_path / "odd.xml"
    path.write_text(_doc(criteria))
    doc = oval.read(path, feed="test", max_bytes=CAP)
    with pytest.raises(oval.OvalUnsupported):
        list(oval.package_checks(doc.definitions[0], doc.tests))
