"""The scheme registry, errors, input bounds and the key cache."""

from __future__ import annotations

import pytest

from dockwatch.errors import DockwatchError
from dockwatch.versions import (
    InvalidVersion,
    UnknownEcosystem,
    VersionError,
    VersionScheme,
    is_known,
    known_ecosystems,
    scheme_for,
    supported_ecosystems,
)
from dockwatch.versions.scheme import COARSE_MAX, MAX_VERSION_LENGTH, coarse_string


@pytest.mark.parametrize(
    ("ecosystem", "scheme_name"),
    [
        ("PyPI", "Pep440Scheme"),
        ("npm", "NpmScheme"),
        ("crates.io", "CratesScheme"),
        ("Go", "GoScheme"),
        ("Maven", "MavenScheme"),
        ("NuGet", "NuGetScheme"),
        ("RubyGems", "GemScheme"),
        ("Packagist", "ComposerScheme"),
        ("Debian", "DpkgScheme"),
        ("Debian:12", "DpkgScheme"),
        ("Ubuntu:22.04:LTS", "DpkgScheme"),
        ("Alpine", "ApkScheme"),
        ("Alpine:v3.19", "ApkScheme"),
        ("AlmaLinux:9", "RpmScheme"),
        ("Rocky Linux:8", "RpmScheme"),
        ("Red Hat", "RpmScheme"),
        ("Red Hat:enterprise_linux:9::appstream", "RpmScheme"),
        ("Bitnami", "BitnamiScheme"),
        ("Wolfi", "ApkScheme"),
        ("Echo", "DpkgScheme"),
        ("Ubuntu:Pro:18.04:LTS", "DpkgScheme"),
        ("Maven:https://maven.google.com", "MavenScheme"),
        ("Root:Alpine:3.18", "ApkScheme"),
        ("Root:PyPI", "Pep440Scheme"),
    ],
)
def test_scheme_for_osv_names(ecosystem: str, scheme_name: str) -> None:
    scheme = scheme_for(ecosystem)
    assert scheme is not None
    assert isinstance(scheme, VersionScheme)
    assert type(scheme).__name__ == scheme_name
    assert scheme.ecosystem == ecosystem.removeprefix("Root:").split(":")[0]
    assert scheme_for(ecosystem) is scheme  # one instance (and one key cache) per ecosystem


def test_known_but_unsupported_is_none() -> None:
    for eco in ("Hackage", "Pub", "CRAN", "GIT", "Android:13", "Root", "Julia"):
        assert is_known(eco)
        assert scheme_for(eco) is None
    assert set(supported_ecosystems()) < set(known_ecosystems())


@pytest.mark.parametrize("ecosystem", ["pypi", "Debain:12", "", ":12", "x" * 500])
def test_unknown_ecosystem_raises(ecosystem: str) -> None:
    assert not is_known(ecosystem)
    with pytest.raises(UnknownEcosystem) as info:
        scheme_for(ecosystem)
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, VersionError)
    assert info.value.ecosystem == ecosystem


def test_invalid_version_carries_its_data() -> None:
    scheme = scheme_for("Debian:12")
    assert scheme is not None
    with pytest.raises(InvalidVersion) as info:
        scheme.compare("1.0", "1:")
    err = info.value
    assert isinstance(err, DockwatchError)
    assert err.version == "1:"
    assert err.ecosystem == "Debian"
    assert "colon" in err.reason


@pytest.mark.parametrize("ecosystem", sorted(supported_ecosystems()))
def test_hostile_input_is_rejected_quickly(ecosystem: str) -> None:
    scheme = scheme_for(ecosystem)
    assert scheme is not None
    hostile_inputs = (
        "1" * (MAX_VERSION_LENGTH + 1),
        "1." * 5000,
        "\x00",
        "1.0\n",
        "💥",
        "1.0-beta" + "1" * 200 + "x",  # catastrophic backtracking bait for nested quantifiers
        "1" + ".1" * 250 + "-",
        "1.0.0-" + "a." * 200 + "!",
    )
    for hostile in hostile_inputs:
        try:
            scheme.key(hostile)
        except InvalidVersion:
            pass
    for not_a_string in (123, None, ["1.0"], b"1.0"):
        with pytest.raises(InvalidVersion):
            scheme.key(not_a_string)  # type: ignore[arg-type]


def test_longest_accepted_version_still_compares() -> None:
    scheme = scheme_for("Debian")
    assert scheme is not None
    long = "1." + ".".join(["9" * 9] * 50)
    assert len(long) <= MAX_VERSION_LENGTH
    assert scheme.compare(long, "1.0") == 1


def test_coarse_string_clamps_and_fills() -> None:
    assert coarse_string(0, [1, 2, 3]) == "00000000:00000001.00000002.00000003"
    assert coarse_string(1, [2]) == "00000001:00000002.00000000.00000000"
    assert coarse_string(0, [2], fill_high=True) == f"00000000:00000002.{COARSE_MAX}.{COARSE_MAX}"
    assert coarse_string(0, [10**12, 5, 5]) == f"00000000:{COARSE_MAX}.{COARSE_MAX}.{COARSE_MAX}"
    assert coarse_string(0, [1, 2, 3, 4], fill_high=True) == "00000000:00000001.00000002.00000003"


def test_keys_are_cached() -> None:
    scheme = scheme_for("Alpine")
    assert scheme is not None
    assert scheme.key("1.2.3-r4") is scheme.key("1.2.3-r4")
