"""PyPI ordering equals `packaging`'s on every version string the PyPA database holds."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml
from packaging.version import InvalidVersion as PackagingInvalid
from packaging.version import Version

from dockwatch.versions import InvalidVersion, scheme_for

PYPA = Path(__file__).resolve().parents[3].parent / "shared/vulndata/pypa-advisory-database/vulns"


def test_same_order_and_same_rejections_as_packaging() -> None:
    if not PYPA.is_dir():
        pytest.skip(f"{PYPA} is absent (../shared/vulndata)")
    strings: set[str] = set()
    for path in sorted(PYPA.glob("*/*.yaml"))[::7]:
        record = yaml.load(path.read_text(), Loader=yaml.CSafeLoader)
        for affected in record.get("affected", []):
            strings.update(affected.get("versions") or ())
    scheme = scheme_for("PyPI")
    assert scheme is not None
    valid: list[str] = []
    for s in strings:
        try:
            Version(s)
        except PackagingInvalid:
            with pytest.raises(InvalidVersion):
                scheme.key(s)
        else:
            valid.append(s)
    assert len(valid) > 5_000
    ours = sorted(valid, key=functools.cmp_to_key(scheme.compare))
    theirs = sorted(valid, key=Version)
    assert [Version(v) for v in ours] == [Version(v) for v in theirs]
