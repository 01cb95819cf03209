"""The format registry and the error an unknown name gets."""

from __future__ import annotations

import pytest

from dockwatch.errors import InvalidInput
from dockwatch.reports.findings import FORMATS, UnknownFormat, lookup, render

from .sample import context, findings


def test_names() -> None:
    assert set(FORMATS) == {"json", "csv", "sarif", "cyclonedx-json", "asff", "table"}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders(name: str) -> None:
    text = render(name, findings(), context())
    assert text.endswith("\n") and len(text) > 10
    assert lookup(name).media_type


def test_unknown_format_lists_the_valid_names() -> None:
    with pytest.raises(UnknownFormat) as info:
        lookup("xml")
    assert isinstance(info.value, InvalidInput)
    assert info.value.name == "xml"
    for name in FORMATS:
        assert name in str(info.value)
