"""The cataloger registry: built-ins, duplicates, and plugins found through entry points.

`may_declare` is checked against `importlib.metadata` itself (the oracle) on the real
environment and on distributions written here: it may say True too often, never False wrongly.
"""

from __future__ import annotations

import importlib.metadata
import sys
import zipfile
from pathlib import Path

import pytest

from dockwatch.catalog.registry import (
    _BUILTINS,
    ENTRY_POINT_GROUP,
    DuplicateCataloger,
    default_registry,
    may_declare,
)

PLUGIN_MODULE = """
from dockwatch.catalog.cataloger import GlobCataloger

def _parse(path, data, env):
    return ()

CATALOGER = GlobCataloger("{name}", version=1).parse("/etc/{name}.txt", _parse)
"""


def write_plugin(root: Path, dist: str, module: str, name: str, layout: str = "dist-info") -> None:
    """A distribution on `root` whose `module:CATALOGER` is registered under the group."""
    (root / f"{module}.py").write_text(PLUGIN_MODULE.format(name=name))
    meta = root / (f"{dist}-1.0.dist-info" if layout == "dist-info" else f"{dist}.egg-info")
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (meta / "PKG-INFO").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (meta / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{name} = {module}:CATALOGER\n")


def declared(group: str) -> bool:
    return bool(importlib.metadata.entry_points(group=group))


def test_may_declare_agrees_with_importlib_metadata_on_this_environment() -> None:
    for group in ("console_scripts", "pytest11", ENTRY_POINT_GROUP, "no.such.group"):
        if declared(group):
            assert may_declare(group), group


def test_may_declare_says_no_when_nothing_declares_the_group() -> None:
    group = "dockwatch.tests.nobody-declares-this"
    assert not declared(group)
    assert not may_declare(group)


@pytest.mark.parametrize("layout", ["dist-info", "egg-info"])
def test_a_plugin_on_sys_path_is_seen_and_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    module = f"dw_plugin_{layout.replace('-', '_')}_{abs(hash(tmp_path)) % 10**8}"
    write_plugin(tmp_path, f"dw-plugin-{layout}", module, f"plugin-{layout}", layout)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert declared(ENTRY_POINT_GROUP)  # the oracle sees it
    assert may_declare(ENTRY_POINT_GROUP)
    registry = default_registry()
    assert registry.names()[-1] == f"plugin-{layout}"
    assert len(registry) == len(_BUILTINS) + 1
    assert len(default_registry(plugins=False)) == len(_BUILTINS)


def test_a_zip_on_sys_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("z-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: z\nVersion: 1.0\n")
        zf.writestr("z-1.0.dist-info/entry_points.txt", "[dockwatch.tests.in-a-zip]\nx = m:C\n")
    monkeypatch.syspath_prepend(str(archive))
    assert declared("dockwatch.tests.in-a-zip")
    assert may_declare("dockwatch.tests.in-a-zip")


def test_a_plugin_taking_a_builtin_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"dw_plugin_dup_{abs(hash(tmp_path)) % 10**8}"
    write_plugin(tmp_path, "dw-plugin-dup", module, "dpkg-db")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(DuplicateCataloger):
        default_registry()


def test_a_plugin_on_a_path_added_later_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed plugins are read once per `sys.path`: a registry made before a folder
    of plugins joins the path does not hide them from the registries made after."""
    before = default_registry()
    module = f"dw_plugin_later_{abs(hash(tmp_path)) % 10**8}"
    write_plugin(tmp_path, "dw-plugin-later", module, "plugin-later")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    assert "plugin-later" not in before.names()
    assert default_registry().names()[-1] == "plugin-later"
