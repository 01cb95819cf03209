"""The explicit-versions check (`versions/listed.py`) against plain `scheme.key` equality.

The oracle keys every listed version and compares keys one by one, as the matcher did before
listed versions were tokenised lazily; lists are built from a version and spellings of it that
some schemes read as the same version (`1.0` / `1.0.0`, `v1.2.3`, `1.2.3+build`, leading zeros,
case), so equal-but-different strings are common, plus unrelated versions and junk.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from dockwatch.versions.listed import ListedVersions
from dockwatch.versions.pep440 import Pep440Scheme
from dockwatch.versions.scheme import (
    INVALID_TOKEN,
    MAX_VERSION_LENGTH,
    BaseScheme,
    InvalidVersion,
    SortKey,
    VersionScheme,
    scheme_for,
)
from tests.unit.versions.test_properties import GRAMMARS

SCHEMES = {
    "PyPI": "PyPI",
    "npm": "npm",
    "crates.io": "crates.io",
    "Hex": "crates.io",
    "NuGet": "NuGet",
    "Go": "Go",
    "Maven": "Maven",
    "RubyGems": "RubyGems",
    "Packagist": "Packagist",
    "Bitnami": "Bitnami",
    "Debian": "Debian",
    "AlmaLinux": "AlmaLinux",
    "Alpine": "Alpine",
}
"""Ecosystem -> the `GRAMMARS` entry its versions are drawn from."""


def oracle(scheme: VersionScheme, version: str, listed: list[str]) -> bool:
    """Listed verbatim, or some listed version's key equals the version's key."""
    if version in listed:
        return True
    try:
        key = scheme.key(version)
    except InvalidVersion:
        return False
    for other in listed:
        try:
            if scheme.key(other) == key:
                return True
        except InvalidVersion:
            continue
    return False


def _respell(draw: st.DrawFn, v: str) -> str:
    """A spelling of `v` that one scheme or another reads as the same version (or not)."""
    how = draw(st.integers(0, 11))
    if how == 0:
        return v + draw(st.sampled_from([".0", ".0.0", "-0", ".00", "0"]))
    if how == 1:
        return draw(st.sampled_from(["v", "V", "0:", "0!", " ", "="])) + v
    if how == 2:
        return v.upper() if draw(st.booleans()) else v.lower()
    if how == 3:  # a leading zero before some number
        runs = [m.start() for m in re.finditer(r"[0-9]+", v)]
        if runs:
            at = draw(st.sampled_from(runs))
            return v[:at] + "0" + v[at:]
        return v
    if how == 4:
        return v + draw(st.sampled_from(["+build.1", "+incompatible", "+0", " ", "\n"]))
    if how == 5:
        a, b = draw(st.sampled_from([(".", "-"), ("-", "."), (".", "_"), ("-", "_"), ("_", ".")]))
        return v.replace(a, b, 1)
    if how == 6:  # drop a trailing zero component
        return re.sub(r"[.-]0$", "", v)
    if how == 7:
        return v.replace(".", ".0", 1)
    if how == 8:
        return re.sub(r"\brc", draw(st.sampled_from(["c", "RC", "-rc", ".rc", "pre"])), v)
    if how == 9:
        return v + draw(st.sampled_from(["a", "-alpha", ".post", "-1", ".dev", "-r0", "~1"]))
    if how == 10:
        return "1" * (MAX_VERSION_LENGTH - len(v) + draw(st.integers(0, 2))) + v
    return v


@st.composite
def cases(draw: st.DrawFn, family: str) -> tuple[str, list[str]]:
    """(version, listed versions): spellings of the version among others and some junk."""
    grammar = st.from_regex(GRAMMARS[family], fullmatch=True)
    version = draw(grammar)
    listed = [_respell(draw, version) for _ in range(draw(st.integers(0, 4)))]
    listed += draw(st.lists(grammar, max_size=4))
    listed += draw(st.lists(st.text(alphabet="0123456789.-+vVarcpostdev ", max_size=8), max_size=2))
    listed = list(draw(st.permutations(listed)))
    return draw(st.sampled_from([version, *listed])) if draw(st.booleans()) else version, listed


@pytest.mark.parametrize("eco", sorted(SCHEMES))
def test_listed_check_is_key_equality(eco: str) -> None:
    scheme = scheme_for(eco)
    assert isinstance(scheme, BaseScheme)

    @settings(max_examples=150, deadline=None)
    @given(cases(SCHEMES[eco]), st.lists(st.text(max_size=6), max_size=3))
    def check(case: tuple[str, list[str]], others: list[str]) -> None:
        version, versions = case
        listed = ListedVersions(versions)
        # the same entry checked for several versions, as the matcher does
        for v in [version, *others, *versions]:
            try:
                key: SortKey | None = scheme.key(v)
            except InvalidVersion:
                key = None
            assert listed.holds(v, key, scheme) is oracle(scheme, v, versions), (v, versions)

    check()


@pytest.mark.parametrize("eco", sorted(SCHEMES))
def test_tokens_are_equal_exactly_when_keys_are(eco: str) -> None:
    scheme = scheme_for(eco)
    assert isinstance(scheme, BaseScheme)

    @settings(max_examples=150, deadline=None)
    @given(cases(SCHEMES[eco]))
    def check(case: tuple[str, list[str]]) -> None:
        version, versions = case
        for other in versions:
            try:
                a, b = scheme.key(version), scheme.key(other)
            except InvalidVersion:
                continue
            same = a == b
            assert (scheme.token(a) == scheme.token(b)) is same, (version, other)
            # the uncached path agrees with the key, whatever shortcut it takes
            assert scheme.fresh_token(other) == scheme.token(b)
            assert (scheme.fresh_token(version) == scheme.fresh_token(other)) is same

    check()


@given(st.from_regex(GRAMMARS["PyPI"], fullmatch=True))
@settings(max_examples=500, deadline=None)
def test_pep440_shortcut_token_is_the_parsed_one(v: str) -> None:
    scheme = Pep440Scheme()
    assert scheme.fresh_token(v) == scheme.token(Version(v))


def test_pep440_tokens_by_hand() -> None:
    scheme = Pep440Scheme()
    same = [
        ["1", "1.0", "1.0.0", "v1.0", "1.0.0.0", " 1.0 ", "0!1.0"],
        ["1.0rc1", "1.0c1", "1-rc1"],
    ]
    for group in same:
        assert len({scheme.fresh_token(v) for v in group}) == 1, group
    assert scheme.fresh_token("1.10") != scheme.fresh_token("1.1")
    assert scheme.fresh_token("1.0.post0") != scheme.fresh_token("1.0")
    assert scheme.fresh_token("nonsense") == INVALID_TOKEN


def test_too_long_listed_version_never_equals() -> None:
    """A listed string longer than any scheme accepts is not a version, even in normal form."""
    scheme = scheme_for("PyPI")
    assert scheme is not None
    long = "1" + ".0" * MAX_VERSION_LENGTH
    listed = ListedVersions([long, "2.0"])
    assert not listed.holds("1", scheme.key("1"), scheme)
    assert listed.holds(long, None, scheme)  # verbatim still counts, as before


def test_invalid_version_listed_verbatim_holds() -> None:
    scheme = scheme_for("npm")
    assert scheme is not None
    listed = ListedVersions(["not-a-version", "1.2.3+build"])
    assert listed.holds("not-a-version", None, scheme)
    assert listed.holds("1.2.3", scheme.key("1.2.3"), scheme)
    assert listed.holds("v1.2.3+other", scheme.key("v1.2.3+other"), scheme)
    assert not listed.holds("1.2.4", scheme.key("1.2.4"), scheme)


class _ListKeys(BaseScheme):
    """Keys that are lists (unhashable): checked one by one."""

    ecosystem = "test"

    def _parse(self, version: str) -> Any:
        if not version.isdigit():
            raise self.invalid(version, "digits only")
        return [int(version)]


class _Bare:
    """A scheme that is not a `BaseScheme` (no tokens): keys compared one by one."""

    ecosystem = "bare"

    def key(self, version: str) -> SortKey:
        if not version.isdigit():
            raise InvalidVersion(version, "digits only")
        return int(version)

    def compare(self, a: str, b: str) -> int:
        return (int(a) > int(b)) - (int(a) < int(b))

    def coarse(self, version: str) -> str:
        return version


@pytest.mark.parametrize("scheme", [_ListKeys(), _Bare()])
def test_schemes_without_hashable_tokens(scheme: VersionScheme) -> None:
    listed = ListedVersions(["007", "x", "12"])
    for v, want in [("7", True), ("0012", True), ("x", True), ("8", False), ("y", False)]:
        try:
            key: SortKey | None = scheme.key(v)
        except InvalidVersion:
            key = None
        assert listed.holds(v, key, scheme) is want is oracle(scheme, v, ["007", "x", "12"])


class _Str(str):
    """A string that is not a `str` to the schemes (they reject it)."""


def test_string_subclasses_are_not_versions() -> None:
    scheme = scheme_for("PyPI")
    assert scheme is not None
    for versions in [("1.0", "2.0"), (_Str("1.0"), "2.0")]:
        listed = ListedVersions(versions)
        for v in ["1.0.0", "2", "3.0"]:
            want = oracle(scheme, v, list(versions))
            assert listed.holds(v, scheme.key(v), scheme) is want, (v, versions)


def test_token_caches_are_bounded() -> None:
    scheme = Pep440Scheme()
    scheme.token_cache_size, scheme.list_cache_size = 10, 4
    tokens: set[Hashable] = set()
    for n in range(50):
        listed = tuple(f"{n}.{m}" for m in range(3))
        tokens |= scheme.listed_tokens(listed)
        assert scheme.listed_tokens(listed) == {scheme.token_of(v) for v in listed}
        assert len(scheme._tokens) <= 10 + 3 and len(scheme._lists) <= 4
    assert "49.1" in tokens and "0" in tokens
