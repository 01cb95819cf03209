"""What reading an image adds to the manifest model (`dockwatch.model.oci`): the Accept header
for registries, the host's platform as the default choice in an index, and the errors raised
when an index lacks a platform or a manifest is an artifact rather than an image."""

from __future__ import annotations

import platform as _platform

from dockwatch.image.errors import NotRunnable, PlatformNotFound
from dockwatch.model.oci import Descriptor, ImageIndex, ImageManifest, MediaType, Platform

#: Accept header value for registries: every manifest type the parser reads.
ACCEPT = (
    MediaType.OCI_INDEX.value,
    MediaType.OCI_MANIFEST.value,
    MediaType.DOCKER_MANIFEST_LIST.value,
    MediaType.DOCKER_MANIFEST_V2.value,
    MediaType.DOCKER_MANIFEST_V1_SIGNED.value,
    MediaType.DOCKER_MANIFEST_V1.value,
)

_MACHINES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def host_platform() -> Platform:
    """The platform of this machine, the default when an index must be resolved."""
    machine = _platform.machine().lower()
    if machine.startswith("armv7"):
        return Platform("linux", "arm", "v7")
    return Platform("linux", _MACHINES.get(machine, machine))


def select_platform(index: ImageIndex, wanted: Platform | None = None) -> Descriptor:
    """The entry of `index` for `wanted` (default: this host's platform)."""
    target = wanted or host_platform()
    entry = index.entry_for(target)
    if entry is None:
        available = tuple(str(d.platform) for d in index.runnable() if d.platform is not None)
        raise PlatformNotFound(str(target), available)
    return entry


def resolve_kind(manifest: ImageManifest) -> None:
    """Raise `NotRunnable` when `manifest` is an artifact rather than an image."""
    kind = manifest.artifact_kind()
    if kind is not None:
        config_type = manifest.config.media_type if manifest.config else manifest.media_type
        raise NotRunnable(kind, manifest.declared_artifact_type or config_type)
