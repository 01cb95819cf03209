"""Where images come from, skopeo-style: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
`docker-archive:FILE`, `docker://HOST[:PORT]/REPO[:TAG|@DIGEST]` and `dockwatch:REPO[:REF]`.

Every transport is a `BlobReader` (manifest by reference, blob by digest); `resolve()` turns a
reader and a reference into a `ResolvedImage` (ordered layers plus config), whatever the manifest
format. dockwatch's own blob store implements `BlobReader` too, so the server catalogues stored
images without an HTTP round trip.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, runtime_checkable

if TYPE_CHECKING:  # httpx costs ~45 ms to import; only docker:// needs it
    import httpx

from dockwatch.image.errors import (
    AuthenticationFailed,
    BlobNotFound,
    ImageError,
    ManifestInvalid,
    NotRunnable,
    ReferenceNotFound,
    RegistryError,
    SourceInvalid,
)
from dockwatch.image.manifests import (
    ACCEPT,
    DOCKER_MANIFEST,
    ImageIndex,
    ImageManifest,
    Platform,
    entry_artifact_kind,
    manifest_digest,
    parse_manifest,
    resolve_kind,
)
from dockwatch.model.digest import Digest, DigestInvalid, compute, is_digest, parse_digest

logger = logging.getLogger(__name__)

#: Manifests and configs are small; anything larger is hostile.
MAX_MANIFEST_BYTES = 4 << 20


@runtime_checkable
class BlobReader(Protocol):
    """Read-only access to one repository's manifests and blobs."""

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """Manifest bytes and media type for a tag or digest; raises `ReferenceNotFound`."""
        ...

    def open_blob(self, digest: Digest) -> BinaryIO:
        """A stream of the blob's bytes; raises `BlobNotFound`."""
        ...


@dataclass(frozen=True, slots=True)
class LayerRef:
    """One layer of a resolved image, base first."""

    digest: Digest
    """Compressed blob digest: the layer's identity everywhere in dockwatch."""
    media_type: str
    size: int
    diff_id: Digest | None = None
    """Uncompressed digest from the config (None for schema 1)."""


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    """A runnable single-platform image, ready to be catalogued."""

    reference: str
    manifest_digest: Digest
    media_type: str
    layers: tuple[LayerRef, ...]
    platform: Platform | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class SkippedArtifact:
    """An index entry or manifest that is not a runnable image, and what it is."""

    digest: Digest
    kind: str
    media_type: str


def _read_small(stream: IO[bytes], what: str) -> bytes:
    with stream:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"{what} larger than {MAX_MANIFEST_BYTES} bytes")
    return data


def resolve(
    reader: BlobReader, ref: str, platform: Platform | None = None, reference: str | None = None
) -> ResolvedImage:
    """Follow `ref` through an index (selecting `platform`) to a runnable image.

    Raises `NotRunnable` for artifacts and `PlatformNotFound` when the index lacks the platform.
    """
    data, media_type = reader.manifest(ref)
    parsed = parse_manifest(data, media_type)
    digest = manifest_digest(data)
    if isinstance(parsed, ImageIndex):
        entry = parsed.select(platform)
        data, media_type = reader.manifest(entry.digest)
        digest = entry.digest
        parsed = parse_manifest(data, media_type or entry.media_type)
        if isinstance(parsed, ImageIndex):
            raise ManifestInvalid("nested index selected for a platform", parsed.media_type)
        return _image(reader, reference or ref, digest, parsed, entry.platform)
    return _image(reader, reference or ref, digest, parsed, None)


def iter_images(reader: BlobReader, ref: str) -> Iterator[ResolvedImage | SkippedArtifact]:
    """Every platform image under `ref` (the server treats each as its own image), with the
    artifacts found beside them reported as skipped."""
    data, media_type = reader.manifest(ref)
    parsed = parse_manifest(data, media_type)
    if isinstance(parsed, ImageManifest):
        try:
            yield _image(reader, ref, manifest_digest(data), parsed, None)
        except NotRunnable as exc:
            yield SkippedArtifact(manifest_digest(data), exc.kind, exc.media_type)
        return
    for entry in parsed.manifests:
        kind = entry_artifact_kind(entry)
        if kind is not None:
            yield SkippedArtifact(entry.digest, kind, entry.media_type)
            continue
        child, child_type = reader.manifest(entry.digest)
        manifest = parse_manifest(child, child_type or entry.media_type)
        if isinstance(manifest, ImageIndex):
            yield SkippedArtifact(entry.digest, "nested-index", manifest.media_type)
            continue
        try:
            yield _image(reader, ref, entry.digest, manifest, entry.platform)
        except NotRunnable as exc:
            yield SkippedArtifact(entry.digest, exc.kind, exc.media_type)


def _image(
    reader: BlobReader,
    reference: str,
    digest: Digest,
    manifest: ImageManifest,
    platform: Platform | None,
) -> ResolvedImage:
    resolve_kind(manifest)
    config: dict[str, Any] = {}
    if manifest.config is not None:
        raw = _read_small(reader.open_blob(manifest.config.digest), "config")
        try:
            loaded = json.loads(raw)
        except ValueError as exc:
            raise ManifestInvalid(f"config {manifest.config.digest} is not JSON") from exc
        config = loaded if isinstance(loaded, dict) else {}
    elif manifest.schema1_config is not None:
        config = manifest.schema1_config
    diff_ids = _diff_ids(config)
    if diff_ids and len(diff_ids) != len(manifest.layers):
        logger.warning("config has %d diff_ids for %d layers", len(diff_ids), len(manifest.layers))
        diff_ids = []
    layers = tuple(
        LayerRef(d.digest, d.media_type, d.size, diff_ids[i] if diff_ids else None)
        for i, d in enumerate(manifest.layers)
    )
    if platform is None and config.get("os") and config.get("architecture"):
        platform = Platform(str(config["os"]), str(config["architecture"]), config.get("variant"))
    return ResolvedImage(reference, digest, manifest.media_type, layers, platform, config)


def _diff_ids(config: dict[str, Any]) -> list[Digest]:
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        return []
    try:
        return [parse_digest(str(d)) for d in rootfs["diff_ids"]]
    except DigestInvalid:
        return []


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
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "digest": config_digest,
                "size": len(config_raw),
            },
            "layers": layers,
        }
        return json.dumps(doc).encode(), DOCKER_MANIFEST

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


# --------------------------------------------------------------------------- registry


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class _ResponseStream(io.RawIOBase):
    """A streamed HTTP body as a file; closing it releases the connection."""

    def __init__(self, response: httpx.Response) -> None:
        import httpx

        self._response = response
        self._chunks: Iterator[bytes]
        try:
            self._chunks = iter([response.content])  # already read (small bodies, test transports)
        except httpx.ResponseNotRead:
            self._chunks = response.iter_bytes(1 << 20)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._response.close()
        super().close()


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """`HOST[:PORT]/REPO[:TAG|@DIGEST]`, with Docker Hub's defaults applied."""

    host: str
    repository: str
    reference: str

    @classmethod
    def parse(cls, text: str) -> RegistryRef:
        """Parse the part after `docker://`."""
        name, digest = text, ""
        if "@" in text:
            name, digest = text.split("@", 1)
        tag = ""
        slash = name.rfind("/")
        colon = name.rfind(":")
        if colon > slash:
            name, tag = name[:colon], name[colon + 1 :]
        first, _, rest = name.partition("/")
        if not rest or ("." not in first and ":" not in first and first != "localhost"):
            host, repo = "registry-1.docker.io", name
            if "/" not in repo:
                repo = f"library/{repo}"
        else:
            host, repo = first, rest
        if not re.fullmatch(
            r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*",
            repo,
        ):
            raise SourceInvalid(f"docker://{text}", f"bad repository name {repo!r}")
        return cls(host, repo, digest or tag or "latest")


class RegistryClient:
    """A pull-only OCI distribution client (`docker://`), with Basic and bearer-token auth.

    `tls_verify=False` accepts any certificate and falls back to plain HTTP, as skopeo does.
    """

    def __init__(
        self,
        ref: RegistryRef,
        creds: tuple[str, str] | None = None,
        tls_verify: bool = True,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        import httpx

        self.ref = ref
        self.creds = creds
        self.tls_verify = tls_verify
        self._client = httpx.Client(
            verify=tls_verify, transport=transport, follow_redirects=True, timeout=timeout
        )
        self._base: str | None = None
        self._auth: str | None = None

    def close(self) -> None:
        """Release connections."""
        self._client.close()

    def _base_url(self) -> str:
        import httpx

        if self._base is None:
            schemes = ["https"] if self.tls_verify else ["https", "http"]
            last: Exception | None = None
            for scheme in schemes:
                url = f"{scheme}://{self.ref.host}/v2/"
                try:
                    self._client.get(url).close()
                except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
                    last = exc
                    continue
                self._base = f"{scheme}://{self.ref.host}"
                break
            else:
                raise RegistryError(self.ref.host, f"cannot connect: {last}")
        return self._base

    def _send(self, path: str, headers: dict[str, str]) -> httpx.Response:
        import httpx

        url = f"{self._base_url()}/v2/{self.ref.repository}/{path}"
        for attempt in range(2):
            request_headers = dict(headers)
            if self._auth:
                request_headers["Authorization"] = self._auth
            try:
                response = self._client.send(
                    self._client.build_request("GET", url, headers=request_headers), stream=True
                )
            except httpx.HTTPError as exc:
                raise RegistryError(url, str(exc)) from exc
            if response.status_code != 401 or attempt:
                break
            challenge = response.headers.get("www-authenticate", "")
            response.close()
            self._auth = self._authenticate(challenge, url)
        if response.status_code == 401:
            response.close()
            raise AuthenticationFailed(url, "credentials refused", 401)
        if response.status_code == 404:
            response.close()
            raise ReferenceNotFound(url)
        if response.status_code >= 400:
            response.read()
            response.close()
            raise RegistryError(url, response.text[:200], response.status_code)
        return response

    def _authenticate(self, challenge: str, url: str) -> str:
        import httpx

        scheme, _, params_text = challenge.partition(" ")
        params = dict(_CHALLENGE.findall(params_text))
        basic = None
        if self.creds is not None:
            basic = "Basic " + base64.b64encode(":".join(self.creds).encode()).decode()
        if scheme.lower() == "basic":
            if basic is None:
                raise AuthenticationFailed(url, "registry wants credentials (--creds)", 401)
            return basic
        if scheme.lower() != "bearer" or "realm" not in params:
            raise AuthenticationFailed(url, f"unsupported auth challenge {challenge!r}", 401)
        query = {"service": params.get("service", "")}
        query["scope"] = params.get("scope") or f"repository:{self.ref.repository}:pull"
        headers = {"Authorization": basic} if basic else {}
        try:
            response = self._client.get(params["realm"], params=query, headers=headers)
        except httpx.HTTPError as exc:
            raise AuthenticationFailed(params["realm"], f"token endpoint: {exc}") from exc
        if response.status_code != 200:
            raise AuthenticationFailed(params["realm"], "token refused", response.status_code)
        body = response.json()
        token = body.get("token") or body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise AuthenticationFailed(params["realm"], "token endpoint returned no token")
        return f"Bearer {token}"

    def manifest(self, ref: str) -> tuple[bytes, str]:
        """GET /v2/REPO/manifests/REF with every supported media type accepted."""
        response = self._send(f"manifests/{ref}", {"Accept": ", ".join(ACCEPT)})
        try:
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_MANIFEST_BYTES:
                    raise ManifestInvalid(f"manifest larger than {MAX_MANIFEST_BYTES} bytes")
        finally:
            response.close()
        return data, response.headers.get("content-type", "").split(";")[0].strip()

    def open_blob(self, digest: Digest) -> BinaryIO:
        """GET /v2/REPO/blobs/DIGEST, streamed (redirects to storage are followed)."""
        try:
            response = self._send(f"blobs/{digest}", {})
        except ReferenceNotFound as exc:
            raise BlobNotFound(digest) from exc
        return io.BufferedReader(_ResponseStream(response), 1 << 20)


# --------------------------------------------------------------------------- source strings

#: `dockwatch:REPO` readers come from the server's store; the composition root installs this.
LocalStore = Callable[[str], BlobReader]


@dataclass(frozen=True, slots=True)
class Source:
    """A parsed source string: the reader and the reference to resolve in it."""

    reader: BlobReader
    ref: str
    display: str


def open_source(
    spec: str,
    creds: tuple[str, str] | None = None,
    tls_verify: bool = True,
    local_store: LocalStore | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Source:
    """Parse a skopeo-style source string into a reader and a reference."""
    transport_name, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise SourceInvalid(spec, "expected TRANSPORT:LOCATION")
    if transport_name == "docker":
        if not rest.startswith("//"):
            raise SourceInvalid(spec, "docker transport wants docker://HOST/REPO")
        ref = RegistryRef.parse(rest[2:])
        client = RegistryClient(ref, creds, tls_verify, transport)
        return Source(client, ref.reference, spec)
    if transport_name in ("oci", "oci-archive", "docker-archive"):
        path, _, tag = rest.partition(":")
        if transport_name == "oci":
            return Source(OciLayout(path), tag, spec)
        if transport_name == "oci-archive":
            return Source(OciArchive(path), tag, spec)
        return Source(DockerArchive(path), tag, spec)
    if transport_name == "dockwatch":
        if local_store is None:
            raise SourceInvalid(spec, "the dockwatch: transport needs the server's blob store")
        repo, local_ref = _split_repo_ref(rest)
        return Source(local_store(repo), local_ref, spec)
    raise SourceInvalid(spec, f"unknown transport {transport_name!r}")


def _split_repo_ref(text: str) -> tuple[str, str]:
    if "@" in text:
        repo, digest = text.split("@", 1)
        return repo, digest
    slash, colon = text.rfind("/"), text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1 :]
    return text, "latest"


__all__ = [
    "BlobReader",
    "DockerArchive",
    "ImageError",
    "LayerRef",
    "OciArchive",
    "OciLayout",
    "RegistryClient",
    "RegistryRef",
    "ResolvedImage",
    "SkippedArtifact",
    "Source",
    "iter_images",
    "open_source",
    "resolve",
]
