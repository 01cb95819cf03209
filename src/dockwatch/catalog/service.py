"""`catalog_image()`: an image in, its inventory out, each layer read at most once.

For each layer (base first) the cache is asked, in one lookup, for every (layer digest,
cataloger name, version); only when some cataloger or the layer's own facts (whiteouts, release
files) are missing is the layer streamed through `catalog.layers`, with just the missing
catalogers' globs, and what it gave is stored in one call.
The server backs `CatalogCache` with SQL; `MemoryCatalogCache` serves the CLI and tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import field
from typing import TYPE_CHECKING, Protocol

from dockwatch.catalog import distro as distro_mod
from dockwatch.catalog.cataloger import Cataloger, CatalogError, LayerFiles, ParseEnv
from dockwatch.catalog.coalesce import LayerCatalog, coalesce
from dockwatch.catalog.layers import (
    Budgets,
    Incomplete,
    IncompleteLayer,
    IncompleteReason,
    Selector,
    read_layer,
)
from dockwatch.catalog.registry import CatalogerRegistry, default_registry
from dockwatch.image.errors import IMAGE_READ_ERRORS
from dockwatch.image.sources import (
    BlobReader,
    LocalStore,
    RegistryClient,
    ResolvedImage,
    Source,
    open_source,
    resolve,
)
from dockwatch.model.catalog import CatalogResult, FileEntry, LayerFacts, Skipped
from dockwatch.model.digest import Digest
from dockwatch.model.distro import Distro
from dockwatch.model.oci import Platform
from dockwatch.model.package import Package
from dockwatch.value_class import frozen

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger(__name__)

#: Version of the per-layer facts `catalog.layers` extracts; bump it when they change.
LAYER_FACTS_VERSION = 2  # 2: /etc/lsb-release and /etc/system-release are release files


CachedLayer = tuple[dict[str, CatalogResult], LayerFacts | None]
"""What the cache holds of one layer: results by cataloger name, and the layer's facts."""


class CatalogCache(Protocol):
    """Per-layer results keyed by (layer digest, cataloger name, cataloger version), and each
    layer's facts. One call per layer each way: a layer is looked up in one read and stored in
    one write, whatever the number of catalogers."""

    def get_layer(
        self, layer: Digest, catalogers: Sequence[tuple[str, int]], facts_version: int
    ) -> CachedLayer:
        """The stored results of the (name, version) `catalogers` that saw the layer at that
        version (by name; the others are absent), and its facts at `facts_version` (or None)."""
        ...

    def put_layer(
        self,
        layer: Digest,
        results: Sequence[tuple[str, int, CatalogResult]],
        facts_version: int,
        facts: LayerFacts | None,
    ) -> None:
        """Store (name, version, result) rows and, unless None, the layer's facts."""
        ...


class MemoryCatalogCache:
    """`CatalogCache` in a dict: the CLI (one run) and the tests."""

    def __init__(self) -> None:
        self.results: dict[tuple[Digest, str, int], CatalogResult] = {}
        self.facts: dict[tuple[Digest, int], LayerFacts] = {}

    def get_layer(
        self, layer: Digest, catalogers: Sequence[tuple[str, int]], facts_version: int
    ) -> CachedLayer:
        """See `CatalogCache.get_layer`."""
        found = {
            name: result
            for name, version in catalogers
            if (result := self.results.get((layer, name, version))) is not None
        }
        return found, self.facts.get((layer, facts_version))

    def put_layer(
        self,
        layer: Digest,
        results: Sequence[tuple[str, int, CatalogResult]],
        facts_version: int,
        facts: LayerFacts | None,
    ) -> None:
        """See `CatalogCache.put_layer`."""
        for name, version, result in results:
            self.results[(layer, name, version)] = result
        if facts is not None:
            self.facts[(layer, facts_version)] = facts


@frozen
class LayerReport:
    """How one layer was handled."""

    digest: Digest
    diff_id: Digest | None
    read: bool
    """False when every result came from the cache."""
    uncompressed_size: int = 0
    entries: int = 0
    seconds: float = 0.0


@frozen
class Inventory:
    """Everything installed in one image."""

    distro: Distro | None
    packages: tuple[Package, ...]
    layers: tuple[LayerReport, ...]
    warnings: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    image: ResolvedImage | None = field(default=None, compare=False)
    incomplete: tuple[IncompleteLayer, ...] = ()
    """Layers whose read a bound, truncation or corruption cut short: the inventory may miss
    packages, so a scan of it is not a clean result."""


Progress = Callable[[int, int, Digest], None]


class ImageCataloguer:
    """Catalogues resolved images with a registry of catalogers and a layer cache."""

    def __init__(
        self,
        registry: CatalogerRegistry | None = None,
        cache: CatalogCache | None = None,
        budgets: Budgets | None = None,
        diff_ids: bool = True,
        verify_blobs: bool | None = None,
    ) -> None:
        """`diff_ids=False` skips hashing each tar (faster on big incompressible layers; the
        config's diff_ids are then not checked). `verify_blobs` checks each blob against its
        digest while reading it; by default (None) only for remote registries: local layouts,
        archives and dockwatch's store are content-addressed and verified when written."""
        self.diff_ids = diff_ids
        self.verify_blobs = verify_blobs
        self.registry = registry if registry is not None else default_registry()
        self.cache: CatalogCache = cache if cache is not None else MemoryCatalogCache()
        self.budgets = budgets or Budgets()

    def catalog(
        self, reader: BlobReader, image: ResolvedImage, progress: Progress | None = None
    ) -> Inventory:
        """Read (or reuse) every layer of `image` and coalesce the results."""
        catalogers = list(self.registry)
        keys = [(c.name, c.version) for c in catalogers]
        warnings: list[str] = []
        skipped: list[Skipped] = []
        reports: list[LayerReport] = []
        layer_catalogs: list[LayerCatalog] = []
        release: dict[str, FileEntry] = {}
        current: Distro | None = None
        incomplete: list[IncompleteLayer] = []
        for number, layer in enumerate(image.layers):
            if progress is not None:
                progress(number, len(image.layers), layer.digest)
            started = time.perf_counter()
            results, facts = self.cache.get_layer(layer.digest, keys, LAYER_FACTS_VERSION)
            missing = [c for c in catalogers if c.name not in results]
            if facts is not None and not facts.complete:
                # An earlier read was cut short: its partial results are never trusted.
                missing, facts, results = list(catalogers), None, {}
            report = LayerReport(layer.digest, facts.diff_id if facts else None, False)
            files: LayerFiles | None = None
            cut: Incomplete | None = None
            read_facts: LayerFacts | None = None  # a complete read's, stored with its results
            if missing or facts is None:
                try:
                    files, facts, report, cut = self._read(reader, layer.digest, missing)
                    if cut is None:  # a partial read is never cached
                        read_facts = facts
                except IMAGE_READ_ERRORS + (CatalogError, OSError) as exc:
                    # Nothing is cached: a network error or a tampered blob may not recur.
                    warnings.append(f"layer {layer.digest}: {exc}")
                    cut = Incomplete(IncompleteReason.UNREADABLE, str(exc))
                    facts = LayerFacts(None, frozenset(), frozenset(), (), (), False)
                    files = None
            assert facts is not None
            # OS as of this layer: release files squashed so far.
            for path in [
                p
                for p in release
                if p in facts.whiteouts or _under(p, facts.opaque_dirs | facts.whiteouts)
            ]:
                del release[path]
            release.update({e.path: e for e in facts.release_files})
            current = distro_mod.detect(release)
            if files is not None:
                env = ParseEnv(current, files)
                ran: list[tuple[str, int, CatalogResult]] = []
                for c in missing:
                    result = results[c.name] = self._run(c, files, env, layer.digest, warnings)
                    ran.append((c.name, c.version, result))
                if cut is None:  # a partial read is never cached
                    self.cache.put_layer(layer.digest, ran, LAYER_FACTS_VERSION, read_facts)
            warnings.extend(f"layer {layer.digest}: {w}" for w in facts.warnings)
            if cut is not None:
                incomplete.append(IncompleteLayer(layer.digest, cut.reason, cut.detail))
            if (
                layer.diff_id is not None
                and facts.diff_id is not None
                and layer.diff_id != facts.diff_id
            ):
                warnings.append(
                    f"layer {layer.digest}: diff_id {facts.diff_id} differs from the config's {layer.diff_id}"
                )
            for result in results.values():
                skipped.extend(result.skipped)
            layer_catalogs.append(
                LayerCatalog(layer.digest, results, facts.whiteouts, facts.opaque_dirs)
            )
            reports.append(_timed(report, time.perf_counter() - started))
        packages = coalesce(layer_catalogs)
        return Inventory(
            current,
            packages,
            tuple(reports),
            tuple(warnings),
            tuple(skipped),
            image,
            tuple(incomplete),
        )

    def _read(
        self, reader: BlobReader, digest: Digest, catalogers: Iterable[Cataloger]
    ) -> tuple[LayerFiles, LayerFacts, LayerReport, Incomplete | None]:
        selector = Selector(catalogers, extra_globs=distro_mod.GLOBS)
        verify = self.verify_blobs
        if verify is None:
            verify = isinstance(reader, RegistryClient)
        expected = digest if verify and digest.startswith("sha256:") else None
        with reader.open_blob(digest) as stream:
            read = read_layer(
                stream, selector, self.budgets, diff_id=self.diff_ids, expected=expected
            )
        files = read.files
        release = tuple(files.files[p] for p in distro_mod.GLOBS if p in files.files)
        facts = LayerFacts(
            read.diff_id,
            frozenset(files.whiteouts),
            frozenset(files.opaque_dirs),
            release,
            tuple(files.warnings),
            read.complete,
        )
        return (
            files,
            facts,
            LayerReport(digest, read.diff_id, True, read.uncompressed_size, read.entries),
            read.incomplete,
        )

    @staticmethod
    def _run(
        c: Cataloger, files: LayerFiles, env: ParseEnv, digest: Digest, warnings: list[str]
    ) -> CatalogResult:
        try:
            return c.catalog(files, env)
        except Exception as exc:  # a plugin boundary: one broken cataloger must not sink the image
            logger.exception("cataloger failed", extra={"cataloger": c.name, "layer": digest})
            warnings.append(
                f"layer {digest}: cataloger {c.name} failed: {type(exc).__name__}: {exc}"
            )
            return CatalogResult(skipped=(Skipped("", f"cataloger {c.name} failed: {exc}"),))


def _under(path: str, dirs: frozenset[str]) -> bool:
    return any(path.startswith(d.rstrip("/") + "/") for d in dirs)


def _timed(report: LayerReport, seconds: float) -> LayerReport:
    return LayerReport(
        report.digest,
        report.diff_id,
        report.read,
        report.uncompressed_size,
        report.entries,
        seconds,
    )


def catalog_image(
    source: str | Source,
    platform: Platform | str | None = None,
    *,
    cataloguer: ImageCataloguer | None = None,
    creds: tuple[str, str] | None = None,
    tls_verify: bool = True,
    progress: Progress | None = None,
    local_store: LocalStore | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Inventory:
    """Catalogue the image a skopeo-style `source` names (`oci:DIR:TAG`, `docker://...`).

    Raises `NotRunnable` for artifacts and the `ImageError` family for unreachable sources.
    """
    if isinstance(source, str):
        source = open_source(source, creds, tls_verify, local_store, transport)
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    image = resolve(source.reader, source.ref, wanted, reference=source.display)
    return (cataloguer or ImageCataloguer()).catalog(source.reader, image, progress)
