"""Layers and images built in code (no committed blobs), usable by every test.

layer = make_layer({"var/lib/dpkg/status": status_text, "usr/bin/x": b"..."},
                   whiteouts=["etc/old"], opaque=["opt/app"], symlinks={"etc/os-release": "../usr/lib/os-release"})
image = make_image([layer, layer2], platform="linux/amd64")
write_oci_layout(tmp_path / "img", [image], tag="latest")
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    """`sha256:HEX` of `data`."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Layer:
    """A built layer: the uncompressed tar and its compressed blob."""

    tar: bytes
    blob: bytes
    media_type: str

    @property
    def digest(self) -> str:
        """Compressed digest (the layer's identity)."""
        return sha256(self.blob)

    @property
    def diff_id(self) -> str:
        """Uncompressed digest."""
        return sha256(self.tar)


def tar_bytes(
    files: Mapping[str, bytes | str],
    whiteouts: Iterable[str] = (),
    opaque: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    hardlinks: Mapping[str, str] | None = None,
    modes: Mapping[str, int] | None = None,
) -> bytes:
    """An uncompressed tar holding `files` (names used verbatim, so `../x` can be tested)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = (modes or {}).get(name, 0o644)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
        for name, target in (hardlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.LNKTYPE
            info.linkname = target
            tf.addfile(info)
        for path in whiteouts:
            head, _, base = path.rstrip("/").rpartition("/")
            tf.addfile(tarfile.TarInfo(f"{head}/.wh.{base}" if head else f".wh.{base}"))
        for directory in opaque:
            tf.addfile(tarfile.TarInfo(f"{directory.rstrip('/')}/.wh..wh..opq"))
    return out.getvalue()


def compress(tar: bytes, compression: str = "gzip") -> tuple[bytes, str]:
    """(blob, media type) for `tar` compressed with `gzip`, `zstd` or `none`."""
    if compression == "gzip":
        return gzip.compress(tar, compresslevel=1, mtime=0), OCI_LAYER_GZIP
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=1).compress(tar), OCI_LAYER_ZSTD
    return tar, OCI_LAYER_TAR


def make_layer(
    files: Mapping[str, bytes | str],
    whiteouts: Iterable[str] = (),
    opaque: Iterable[str] = (),
    symlinks: Mapping[str, str] | None = None,
    hardlinks: Mapping[str, str] | None = None,
    compression: str = "gzip",
    modes: Mapping[str, int] | None = None,
) -> Layer:
    """A layer from a {path: content} map plus whiteouts, opaque dirs and links."""
    tar = tar_bytes(files, whiteouts, opaque, symlinks, hardlinks, modes)
    blob, media_type = compress(tar, compression)
    return Layer(tar, blob, media_type)


@dataclass(frozen=True)
class Image:
    """A built single-platform image: manifest, config and layers."""

    layers: tuple[Layer, ...]
    config: bytes
    manifest: bytes
    platform: str = "linux/amd64"
    extra_blobs: tuple[bytes, ...] = field(default=())

    @property
    def digest(self) -> str:
        """Manifest digest."""
        return sha256(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        """Every blob of the image by digest (manifest included)."""
        out = {sha256(b): b for b in (self.config, self.manifest, *self.extra_blobs)}
        out.update({layer.digest: layer.blob for layer in self.layers})
        return out


def make_image(
    layers: Sequence[Layer],
    platform: str = "linux/amd64",
    config_extra: Mapping[str, Any] | None = None,
    config_media_type: str = OCI_CONFIG,
    layer_media_type: str | None = None,
    artifact_type: str | None = None,
) -> Image:
    """An OCI image manifest + config over `layers`."""
    os_name, arch, *variant = platform.split("/")
    config_doc: dict[str, Any] = {
        "architecture": arch,
        "os": os_name,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "config": {},
    }
    if variant:
        config_doc["variant"] = variant[0]
    config_doc.update(config_extra or {})
    config = json.dumps(config_doc, sort_keys=True).encode()
    manifest_doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_media_type, "digest": sha256(config), "size": len(config)},
        "layers": [
            {
                "mediaType": layer_media_type or layer.media_type,
                "digest": layer.digest,
                "size": len(layer.blob),
            }
            for layer in layers
        ],
    }
    if artifact_type:
        manifest_doc["artifactType"] = artifact_type
    manifest = json.dumps(manifest_doc, sort_keys=True).encode()
    return Image(tuple(layers), config, manifest, platform)


def make_index(images: Sequence[Image], extra: Sequence[dict[str, Any]] = ()) -> bytes:
    """An OCI index over `images` (with their platforms), plus raw `extra` descriptors."""
    manifests = []
    for image in images:
        os_name, arch, *variant = image.platform.split("/")
        platform: dict[str, str] = {"os": os_name, "architecture": arch}
        if variant:
            platform["variant"] = variant[0]
        manifests.append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": image.digest,
                "size": len(image.manifest),
                "platform": platform,
            }
        )
    return json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests + list(extra)}
    ).encode()


def write_blobs(root: Path, blobs: Mapping[str, bytes]) -> None:
    """Write blobs under `root/blobs/ALG/HEX`."""
    for digest, data in blobs.items():
        algorithm, _, hexpart = digest.partition(":")
        path = root / "blobs" / algorithm / hexpart
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_oci_layout(
    root: Path, images: Sequence[Image], tag: str | None = "latest", index: bytes | None = None
) -> Path:
    """An OCI image layout: one image tagged `tag`, or an `index` (its own blob, tagged)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for image in images:
        write_blobs(root, image.blobs())
    annotations = {"org.opencontainers.image.ref.name": tag} if tag else {}
    if index is not None:
        write_blobs(root, {sha256(index): index})
        entry = {
            "mediaType": OCI_INDEX,
            "digest": sha256(index),
            "size": len(index),
            "annotations": annotations,
        }
    else:
        image = images[0]
        entry = {
            "mediaType": OCI_MANIFEST,
            "digest": image.digest,
            "size": len(image.manifest),
            "annotations": annotations,
        }
    (root / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})
    )
    return root


def tar_directory(directory: Path, out: Path) -> Path:
    """A plain tar of `directory`'s content (for `oci-archive:`)."""
    with tarfile.open(out, "w") as tf:
        for path in sorted(directory.rglob("*")):
            tf.add(path, arcname=os.path.relpath(path, directory), recursive=False)
    return out


def write_docker_archive(
    out: Path, image: Image, repo_tag: str = "example:latest", oci_shaped: bool = False
) -> Path:
    """A `docker save`-style tar: `manifest.json`, config JSON, uncompressed layer tars.

    Classic layout (`<id>/layer.tar`, config `<hex>.json`) unless `oci_shaped` (Docker 25+:
    `blobs/sha256/HEX` for each)."""
    members: dict[str, bytes] = {}
    config_hex = sha256(image.config)[7:]
    config_name = f"blobs/sha256/{config_hex}" if oci_shaped else f"{config_hex}.json"
    members[config_name] = image.config
    layer_names = []
    for layer in image.layers:
        hexpart = layer.diff_id[7:]
        name = f"blobs/sha256/{hexpart}" if oci_shaped else f"{hexpart}/layer.tar"
        members[name] = layer.tar
        layer_names.append(name)
    members["manifest.json"] = json.dumps(
        [{"Config": config_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    ).encode()
    with tarfile.open(out, "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return out


def dpkg_stanza(
    name: str,
    version: str,
    arch: str = "amd64",
    source: str | None = None,
    status: str | None = "install ok installed",
) -> str:
    """One dpkg status stanza (as dpkg writes it)."""
    lines = [f"Package: {name}"]
    if status is not None:
        lines.append(f"Status: {status}")
    lines += [
        "Priority: optional",
        "Section: libs",
        "Installed-Size: 100",
        "Maintainer: Someone <a@b.c>",
    ]
    lines.append(f"Architecture: {arch}")
    if source:
        lines.append(f"Source: {source}")
    lines += [f"Version: {version}", "Description: a package", " with a long description", " ."]
    return "\n".join(lines) + "\n"


def dpkg_status(*stanzas: str) -> str:
    """A status file from stanzas."""
    return "\n".join(stanzas)


def apk_entry(
    name: str,
    version: str,
    origin: str | None = None,
    arch: str = "x86_64",
    files: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """One stanza of `/lib/apk/db/installed`, with F:/R: file lines."""
    lines = [
        f"C:Q1{name}=",
        f"P:{name}",
        f"V:{version}",
        f"A:{arch}",
        "S:1000",
        "I:2000",
        "T:pkg",
        "L:MIT",
    ]
    if origin:
        lines.append(f"o:{origin}")
    for directory, names in (files or {}).items():
        lines.append(f"F:{directory}")
        lines.extend(f"R:{n}" for n in names)
    return "\n".join(lines) + "\n"
