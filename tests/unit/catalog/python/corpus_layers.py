"""Read an image of the shared corpus into one squashed `LayerFiles`, for the language catalogers.

The layers are read with `tarfile` straight from the OCI layout (no dockwatch code involved besides
the catalogers' own `globs`/`wants`/`reduce`), whiteouts applied in order, so the view matches the rootfs
that `NAME.contents.txt` was read from. Shared by the per-ecosystem corpus tests.
"""

from __future__ import annotations

import json
import os
import posixpath
import tarfile
from collections.abc import Sequence
from pathlib import Path

from dockwatch.catalog.cataloger import (
    Cataloger,
    CatalogResult,
    FileEntry,
    LayerFiles,
    ParseEnv,
    match_glob,
)

CORPUS = Path(os.environ.get("DOCKWATCH_CORPUS", "/var/tmp/dockwatch-corpus"))


def corpus_image(name: str) -> Path | None:
    """The OCI layout of image `name`, or None when the corpus (or that image) is absent."""
    layout = CORPUS / name
    return layout if (layout / "index.json").is_file() else None


def _blob(layout: Path, digest: str) -> Path:
    algo, hexd = digest.split(":", 1)
    return layout / "blobs" / algo / hexd


def layer_blobs(layout: Path) -> list[Path]:
    """Layer blob paths of the `latest` image, base first."""
    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]).read_text())
    return [_blob(layout, layer["digest"]) for layer in manifest["layers"]]


def _wanted(
    path: str, size: int, mode: int, catalogers: Sequence[Cataloger]
) -> tuple[bool, Cataloger | None]:
    """(read it?, the cataloger that wants it when no glob names it), as `catalog.layers` decides."""
    if any(match_glob(g, path) for cat in catalogers for g in cat.globs):
        return True, None
    wanter = next((cat for cat in catalogers if cat.wants(path, size, mode)), None)
    return wanter is not None, wanter


def squashed_files(
    layout: Path, catalogers: Sequence[Cataloger], reduce: bool = True
) -> LayerFiles:
    """Candidate files of the squashed image for `catalogers` (reduced by their `reduce`
    ability when they have it and `reduce` is true, as `catalog.layers` does)."""
    files: dict[str, FileEntry] = {}
    for blob in layer_blobs(layout):
        with tarfile.open(blob, mode="r|*") as tar:
            for member in tar:
                path = "/" + posixpath.normpath(member.name).lstrip("./").lstrip("/")
                base = posixpath.basename(path)
                parent = posixpath.dirname(path)
                if base == ".wh..wh..opq":
                    prefix = parent.rstrip("/") + "/"
                    for key in [k for k in files if k.startswith(prefix)]:
                        del files[key]
                    continue
                if base.startswith(".wh."):
                    gone = posixpath.join(parent, base[len(".wh.") :])
                    for key in [k for k in files if k == gone or k.startswith(gone + "/")]:
                        del files[key]
                    continue
                if member.issym():
                    files[path] = FileEntry(path, 0, member.mode, None, member.linkname)
                    continue
                if not member.isfile():
                    continue
                read, wanter = _wanted(path, member.size, member.mode, catalogers)
                if not read:
                    files.pop(path, None)
                    continue
                fh = tar.extractfile(member)
                data = fh.read() if fh is not None else None
                reducer = getattr(wanter, "reduce", None) if reduce else None
                if data is not None and reducer is not None:
                    # The optional ReducingCataloger ability, applied as `catalog.layers` applies it.
                    data = reducer(path, data)
                    if data is None:
                        files.pop(path, None)
                        continue
                files[path] = FileEntry(path, member.size, member.mode, data)
    return LayerFiles(files=files)


def catalog_image(name: str, catalogers: Sequence[Cataloger]) -> list[CatalogResult] | None:
    """Every cataloger's result on the squashed image, or None when the image is absent."""
    layout = corpus_image(name)
    if layout is None:
        return None
    files = squashed_files(layout, catalogers)
    env = ParseEnv(distro=None, files=files)
    return [cat.catalog(files, env) for cat in catalogers]


def contents_section(name: str, header_start: str) -> list[str]:
    """The lines of one section of `NAME.contents.txt` (headers start with `# `)."""
    lines = (CORPUS / f"{name}.contents.txt").read_text().splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        if line.startswith("# "):
            inside = line[2:].startswith(header_start)
            continue
        if inside and line.strip():
            out.append(line)
    return out
