"""Bitnami specifics: SemVer read leniently, as the feed writes it."""

from __future__ import annotations

from dockwatch.versions.bitnami import BitnamiScheme


def test_lenient_forms() -> None:
    s = BitnamiScheme()
    assert s.compare("1.8.0-333", "1.8.0") == -1
    assert s.compare("07.1", "7.1.0") == 0
    assert s.coarse("2.4.46-10.el8") == "00000000:00000002.00000004.00000046"
