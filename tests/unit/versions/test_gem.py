"""RubyGems specifics: prerelease detection and Ruby's zero padding."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from dockwatch.versions.gem import GemScheme, canonical_segments


def test_canonical_segments() -> None:
    # rubygems test_gem_version.rb, test_canonical_segments
    assert canonical_segments("1.0.0") == [1]
    assert canonical_segments("1.0.0.a.1.0") == [1, "a", 1]
    assert canonical_segments("1.2.3-1") == [1, 2, 3, "pre", 1]
    # and the rules behind them
    assert canonical_segments("1.0.a.0.1") == [1, "a", 0, 1]
    assert canonical_segments("2.0.0-rc1") == [2, "rc", 1]
    assert canonical_segments("1.0.0.pre.beta.1") == [1, "beta", 1]
    assert canonical_segments("1.0-a-") == [1, "a"]
    assert canonical_segments("") == [0]


def test_prerelease() -> None:
    s = GemScheme()
    assert s.is_prerelease("1.0.0.rc1")
    assert s.is_prerelease("1.0.0-1")
    assert s.is_prerelease("1.A")
    assert s.is_prerelease("22.1.50.0.d")
    assert not s.is_prerelease("1.0.0")
    assert not s.is_prerelease("22.1.50.0")


def test_padding_with_zeros_compares_strings_below() -> None:
    s = GemScheme()
    assert s.compare("1.a", "1.a.0.b") == 1  # the 0 pads 1.a; then 0 > "b"
    assert s.compare("1.a", "1.a.0.1") == -1


def ruby_spaceship(a: str, b: str) -> int:
    """A literal transcription of `Gem::Version#<=>` over canonical segments (the oracle)."""
    lhs, rhs = canonical_segments(a), canonical_segments(b)
    if lhs == rhs:
        return 0
    for i in range(max(len(lhs), len(rhs))):
        left: int | str = lhs[i] if i < len(lhs) else 0
        right: int | str = rhs[i] if i < len(rhs) else 0
        if left == right:
            continue
        if isinstance(left, str) and isinstance(right, int):
            return -1
        if isinstance(left, int) and isinstance(right, str):
            return 1
        return -1 if left < right else 1  # type: ignore[operator]
    return 0


_GEM = r"[0-9]{1,2}(\.([0-9]{1,2}|[a-c]{1,2})){0,5}(-[0-9a-c]{1,2})?"


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(_GEM, fullmatch=True), st.from_regex(_GEM, fullmatch=True))
def test_key_order_equals_rubys_comparison(a: str, b: str) -> None:
    assert GemScheme().compare(a, b) == ruby_spaceship(a, b)
