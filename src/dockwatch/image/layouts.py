"""Images on disk: an OCI image layout directory (`oci:`), a tar of one (`oci-archive:`) and
the tar `docker save` writes (`docker-archive:`). Archives are read in place (member offsets),
never extracted."""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
from typing import Any, BinaryIO

from dockwatch.image.blobs import diff_ids as _diff_ids
from dockwatch.image.blobs import read_small as _read_small
from dockwatch.image.errors import BlobNotFound, ManifestInvalid, ReferenceNotFound, SourceInvalid
from dockwatch.model.digest import Digest, compute, is_digest, parse_digest
from dockwatch.model.oci import MediaType

# --------------------------------------------------------------------------- OCI layout


class OciLayout:
    """An OCI image layout directory (`oci:DIR`)."""

    def __init__(self, root: str) -> None:
        self.root = root
        if not os.path.isfile(os.path.join(root, "index.json")):
            raise SourceInvalid(f"oci:{root}", "no index.json (not an OCI image layout)")

    def _index(self) -> dict[str, Any]:
        with open(os.path.join(self.root, "index.json"), "rb") as f:
            doc = json.loads(_read_small(f, "index.json"))
        if not isinstance(doc, dict):
            raise ManifestInvalid("index.json is not an object")
        return doc

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """`ref` is a tag (`org.opencontainers.image.ref.name`), a digest or "" (sole image)."""
        if ref and is_digest(ref):
            return self._blob_bytes(parse_digest(ref)), ""
        index = self._index()
        entries = [e for e in index.get("manifests", []) if isinstance(e, dict)]
        if ref:
            entries = [
                e
                for e in entries
                if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref
            ]
        if not ref and len(entries) != 1:
            if not entries:
                raise ReferenceNotFound(f"oci:{self.root}")
            # Several untagged entries form an index in themselves: resolve() picks a platform.
            return json.dumps(index).encode(), str(index.get("mediaType", ""))
        if not entries:
            raise ReferenceNotFound(f"oci:{self.root}:{ref}")
        entry = entries[0]
        return self._blob_bytes(parse_digest(str(entry["digest"]))), str(entry.get("mediaType", ""))

    def _path(self, digest: Digest) -> str:
        algorithm, _, hexpart = digest.partition(":")
        return os.path.join(self.root, "blobs", algorithm, hexpart)

    def _blob_bytes(self, digest: Digest) -> bytes:
        return _read_small(self.open_blob(digest), f"manifest {digest}")

    def open_blob(self, digest: Digest) -> BinaryIO:
        """The blob file, opened for reading."""
        try:
            return open(self._path(digest), "rb")
        except FileNotFoundError as exc:
            raise BlobNotFound(digest) from exc


# --------------------------------------------------------------------------- tar archives


class _Slice(io.RawIOBase):
    """A read-only window on a file: one member of an uncompressed tar archive."""

    def __init__(self, path: str, start: int, length: int) -> None:
        self._f = open(path, "rb")
        self._f.seek(start)
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        n = self._f.readinto(view[: min(len(view), self._left)]) if self._left else 0
        self._left -= n or 0
        return n or 0

    def close(self) -> None:
        self._f.close()
        super().close()


class _TarIndex:
    """Offsets of the regular files of an uncompressed tar, read once (headers only)."""

    def __init__(self, path: str, transport: str) -> None:
        self.path = path
        self.members: dict[str, tuple[int, int]] = {}
        try:
            with tarfile.open(path, "r:") as tf:
                for m in tf:
                    if m.isreg() and not m.issparse():
                        self.members[m.name.removeprefix("./")] = (m.offset_data, m.size)
        except (tarfile.TarError, OSError) as exc:
            raise SourceInvalid(
                f"{transport}:{path}", f"not a readable tar archive: {exc}"
            ) from exc

    def open(self, name: str) -> BinaryIO:
        offset, size = self.members[name]
        return io.BufferedReader(_Slice(self.path, offset, size), 1 << 20)

    def read_small(self, name: str) -> bytes:
        return _read_small(self.open(name), name)


class OciArchive:
    """A tar of an OCI image layout (`oci-archive:FILE`), read in place."""

    def __init__(self, path: str) -> None:
        self.tar = _TarIndex(path, "oci-archive")
        if "index.json" not in self.tar.members:
            raise SourceInvalid(f"oci-archive:{path}", "no index.json inside")

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """As `OciLayout.manifest`."""
        if ref and is_digest(ref):
            return self._blob(parse_digest(ref)), ""
        index = json.loads(self.tar.read_small("index.json"))
        entries = [e for e in index.get("manifests", []) if isinstance(e, dict)]
        if ref:
            entries = [
                e
                for e in entries
                if (e.get("annotations") or {}).get("org.opencontainers.image.ref.name") == ref
            ]
        if not entries:
            raise ReferenceNotFound(f"oci-archive:{self.tar.path}:{ref}")
        if not ref and len(entries) > 1:
            return json.dumps(index).encode(), str(index.get("mediaType", ""))
        return self._blob(parse_digest(str(entries[0]["digest"]))), str(
            entries[0].get("mediaType", "")
        )

    def _blob(self, digest: Digest) -> bytes:
        return _read_small(self.open_blob(digest), f"manifest {digest}")

    def open_blob(self, digest: Digest) -> BinaryIO:
        """The member `blobs/ALG/HEX`."""
        name = "blobs/" + digest.replace(":", "/", 1)
        if name not in self.tar.members:
            raise BlobNotFound(digest)
        return self.tar.open(name)


class DockerArchive:
    """The tar `docker save` writes: `manifest.json` naming a config and layer tars.

    Layers are addressed by the config's diff_ids (they are uncompressed, so blob digest and
    diff_id coincide), or by their `blobs/sha256/HEX` path in the OCI-shaped archives of
    Docker 25+. The manifest handed out is a synthesized Docker v2 schema 2 manifest.
    """

    def __init__(self, path: str) -> None:
        self.tar = _TarIndex(path, "docker-archive")
        if "manifest.json" not in self.tar.members:
            raise SourceInvalid(f"docker-archive:{path}", "no manifest.json inside")
        entries = json.loads(self.tar.read_small("manifest.json"))
        if not isinstance(entries, list) or not entries:
            raise SourceInvalid(f"docker-archive:{path}", "manifest.json lists no image")
        self.entries: list[dict[str, Any]] = entries
        self._names: dict[Digest, str] = {}

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """`ref` selects by RepoTags (`name:tag`) or index (`@N`); empty means the first."""
        entry = self._entry(ref)
        config_name = str(entry["Config"])
        config_raw = self.tar.read_small(config_name)
        config_digest = compute(config_raw)
        self._names[config_digest] = config_name
        diff_ids = _diff_ids(json.loads(config_raw))
        layers = []
        for i, name in enumerate(entry.get("Layers", [])):
            m = re.fullmatch(r"blobs/(sha256)/([0-9a-f]{64})", str(name))
            if m:
                digest = Digest(f"{m.group(1)}:{m.group(2)}")
            elif i < len(diff_ids):
                digest = diff_ids[i]
            else:
                raise ManifestInvalid(f"layer {name} has no diff_id in the config")
            self._names[digest] = str(name)
            size = self.tar.members.get(str(name), (0, -1))[1]
            layers.append(
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                    "digest": digest,
                    "size": size,
                }
            )
        doc = {
            "schemaVersion": 2,
            "mediaType": MediaType.DOCKER_MANIFEST_V2.value,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": config_digest,
                "size": len(config_raw),
            },
            "layers": layers,
        }
        return json.dumps(doc).encode(), MediaType.DOCKER_MANIFEST_V2.value

    def _entry(self, ref: str) -> dict[str, Any]:
        if not ref:
            return self.entries[0]
        if ref.startswith("@") and ref[1:].isdigit() and int(ref[1:]) < len(self.entries):
            return self.entries[int(ref[1:])]
        for e in self.entries:
            if ref in (e.get("RepoTags") or []):
                return e
        raise ReferenceNotFound(f"docker-archive:{self.tar.path}:{ref}")

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A config or layer member, by the digest the synthesized manifest gave it."""
        name = self._names.get(digest)
        if name is None or name not in self.tar.members:
            raise BlobNotFound(digest)
        return self.tar.open(name)
