"""Maven specifics: the parsed item tree (ComparableVersion's canonical form)."""

from __future__ import annotations

from dockwatch.versions.maven import MavenScheme, _canonical, parse_items


def test_canonical_forms() -> None:
    # ComparableVersion.getCanonical() for these inputs
    assert _canonical(parse_items("1.0.0")) == "1"
    assert _canonical(parse_items("1-SNAPSHOT")) == "1-snapshot"
    assert _canonical(parse_items("1.0-alpha-1")) == "1-alpha-1"
    assert _canonical(parse_items("1.0.0.RC1")) == "1-rc-1"


def test_keys_hash_like_they_compare() -> None:
    s = MavenScheme()
    assert s.key("1.0") == s.key("1")
    assert hash(s.key("1.0")) == hash(s.key("1"))
    assert len({s.key("1-ga"), s.key("1.0.0"), s.key("1final")}) == 1
