"""Repository name and tag grammar (distribution spec)."""

from __future__ import annotations

import pytest

from dockwatch.registry.names import NameInvalid, TagInvalid, check_name, check_tag


@pytest.mark.parametrize("name", ["a", "library/ubuntu", "a.b_c__d---e/f", "x" * 255, "0/1/2/3"])
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "A", "a/", "/a", "a//b", "a___b", "a.-b", "-a", "a" * 256, "a b", "a/../b"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(NameInvalid):
        check_name(name)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b.c_d", "a" * 128])
def test_valid_tags(tag: str) -> None:
    assert check_tag(tag) == tag


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "a/b", "a:b"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(TagInvalid):
        check_tag(tag)
