"""Which feed format a local file is in, for `dockwatch db import PATH...`.

Sniffs the first bytes (and, for JSON whose first bytes say nothing, the top-level keys), so a
folder such as ../shared/vulndata can be imported as it is: OSV records, the KEV catalogue,
Alpine secdb files, NVD pages, Debian tracker dumps, EPSS files and vendor OVAL files (Oracle's
ELSA, plain or bz2; Microsoft's Azure Linux / CBL-Mariner) are told apart, and licences,
READMEs, JSON schemas and other files are skipped.
Alpine secdb files, NVD pages, Debian tracker dumps, Photon CVE metadata and EPSS files are
told apart, and licences, READMEs, JSON schemas and other files are skipped.
"""

from __future__ import annotations

import bz2
import gzip
import re
import zipfile
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path

import orjson

from dockwatch.feeds import (
    alpine,
    azurelinux,
    debian,
    debian_elts,
    epss,
    fedora,
    kev,
    nvd,
    oracle,
    osv,
    photon,
    redhat,
    updateinfo,
    wolfi,
    zip_directory,
)
from dockwatch.feeds import fields as f
from dockwatch.feeds.feed import FeedItem
from dockwatch.feeds.folder_walk import walk_files
from dockwatch.value_class import frozen

_PREFIX = 64 << 10
_FULL_PARSE_LIMIT = 512 << 20
_KEV_HEAD = re.compile(rb'"catalogVersion"\s*:\s*"')
_VEX_HEAD = re.compile(rb'"category"\s*:\s*"csaf_vex"')
_DEBIAN_HEAD = re.compile(rb'^\s*\{\s*"[^"]{1,256}"\s*:\s*\{\s*"(CVE|TEMP)-')
_PHOTON_HEAD = re.compile(rb'^\s*\[\s*(\{\s*"(cve_id|pkg|cve_score|aff_ver|res_ver|status)"|\])')


class Format(StrEnum):
    """The formats the parsers read."""

    OSV = "osv"
    DEBIAN = "debian"
    ALPINE = "alpine"
    NVD = "nvd"
    KEV = "kev"
    EPSS = "epss"
    WOLFI = "wolfi"
    UPDATEINFO = "updateinfo"
    ORACLE = "oracle"
    AZURELINUX = "azurelinux"
    REDHAT_VEX = "redhat"
    BODHI = "bodhi"
    PHOTON = "photon"


@frozen
class Found:
    """One importable file and its format."""

    format: Format
    """What parses it."""
    path: Path
    """The file."""


def _sniff_json_head(head: bytes) -> Format | None:
    if _VEX_HEAD.search(head):
        return Format.REDHAT_VEX
    if _KEV_HEAD.search(head) and b'"vulnerabilities"' in head:
        return Format.KEV
    if b'"resultsPerPage"' in head and (b'"NVD_CVE"' in head or b'"totalResults"' in head):
        return Format.NVD
    if b'"distroversion"' not in head and (b"packages.wolfi.dev" in head or b"cgr.dev" in head):
        return Format.WOLFI if b'"packages"' in head else None
    if b'"secfixes"' in head or (b'"distroversion"' in head and b'"packages"' in head):
        return Format.ALPINE
    if _DEBIAN_HEAD.match(head):
        return Format.DEBIAN
    if b'"alias"' in head and b'"builds"' in head and b"bodhi" in head:
        return Format.BODHI  # a Bodhi updates page or one saved update
    if (
        b'"$schema"' not in head
        and b'"id"' in head
        and (b'"affected"' in head or b'"modified"' in head)
    ):
        return Format.OSV
    return None


def _sniff_json_doc(doc: object) -> Format | None:
    if not isinstance(doc, dict):
        return None
    meta = doc.get("document")
    if isinstance(meta, dict) and meta.get("category") == "csaf_vex":
        return Format.REDHAT_VEX
    if osv.looks_like_record(doc):
        return Format.OSV
    if "vulnerabilities" in doc and "catalogVersion" in doc:
        return Format.KEV
    if "vulnerabilities" in doc and "totalResults" in doc:
        return Format.NVD
    if "packages" in doc and "distroversion" in doc:
        return Format.ALPINE
    if "packages" in doc and "urlprefix" in doc:
        return Format.WOLFI
    first = next(iter(doc.values()), None)
    if isinstance(first, dict) and any(
        isinstance(k, str) and k.startswith(("CVE-", "TEMP-")) for k in list(first)[:5]
    ):
        return Format.DEBIAN
    return None


def _sniff_oval(head: bytes) -> Format | None:
    """Oracle's ELSA OVAL or Microsoft's Azure Linux / CBL-Mariner OVAL, by the generator."""
    if b"<oval_definitions" not in head:
        return None
    if b"Oracle Errata System" in head:
        return Format.ORACLE
    if any(p.encode() in head for p in azurelinux.PRODUCTS):
        return Format.AZURELINUX
    return None


def sniff(path: Path) -> Format | None:
    """The format of one file, or None for anything else (licences, schemas, CSVs, ...)."""
    name = path.name.lower()
    try:
        with path.open("rb") as fh:
            head = fh.read(_PREFIX)
    except OSError:
        return None
    if name.endswith(".zip") or head.startswith(b"PK\x03\x04"):
        try:
            zf, _end = zip_directory.open_zip(path)  # over the cap: not a feed this reads
            with zf:
                ok = any(n.lower().endswith((".json", ".yaml", ".yml")) for n in zf.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        return Format.OSV if ok else None
    if name.endswith((".tar.zst", ".tar.zstd")) or head.startswith(redhat.ZSTD_MAGIC):
        return Format.REDHAT_VEX  # Red Hat's VEX archive (csaf_vex_<date>.tar.zst)
    if head.startswith(b"\x1f\x8b"):
        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(256)
        except (OSError, EOFError):
            return None
    if head.startswith(b"BZh"):
        try:
            with bz2.open(path, "rb") as bz:
                head = bz.read(_PREFIX)
        except (OSError, EOFError, ValueError):
            return None
    oval_format = _sniff_oval(head)
    if oval_format is not None:
        return oval_format
    stripped = head.lstrip()
    if stripped.startswith(b"<") and updateinfo.looks_like_updateinfo(head):
        return Format.UPDATEINFO  # Amazon Linux / Bottlerocket updateinfo.xml(.gz)
    if stripped.startswith((b"#model_version", b"cve,epss,percentile")):
        return Format.EPSS
    if _PHOTON_HEAD.match(head) and (b'"res_ver"' in head or "photon" in name):
        return Format.PHOTON  # Photon's CVE metadata: an array of rows
    if name.endswith((".yaml", ".yml")):
        return Format.OSV
    if not stripped.startswith(b"{"):
        return None
    fmt = _sniff_json_head(head)
    if fmt is not None:
        return fmt
    if path.stat().st_size > _FULL_PARSE_LIMIT:
        return None
    try:
        doc = orjson.loads(f.read_bounded(path, _FULL_PARSE_LIMIT))
    except (orjson.JSONDecodeError, OSError, f.TooBig):
        # A broken file with an OSV name is still meant as a record: report it, don't skip it.
        return Format.OSV if name.endswith(".json") and b'"id"' in head else None
    return _sniff_json_doc(doc)


def scan(path: Path) -> Iterator[Found]:
    """Every importable file under `path` (or `path` itself), in sorted order, hidden entries
    and what is not a regular file skipped."""
    if not path.is_dir():
        fmt = sniff(path)
        if fmt is not None:
            yield Found(fmt, path)
        return
    for folder in walk_files(path):
        for name in folder.files:
            p = Path(folder.path, name)
            fmt = sniff(p)
            if fmt is not None:
                yield Found(fmt, p)


def parse_found(found: list[Found], source: str | None = None) -> Iterator[FeedItem]:
    """Parse files that `scan` found, each with its format's parser.

    OSV files share one duplicate-id filter; Alpine files are parsed together (one advisory per
    vulnerability across branches). `source` names OSV advisories (default `osv:local`).
    """
    seen: osv.Seen = {}
    alpine_files = [(x.path, "") for x in found if x.format is Format.ALPINE]
    for x in found:
        if x.format is Format.OSV:
            yield from osv.iter_path(x.path, source or "osv:local", seen=seen)
        elif x.format is Format.DEBIAN and debian_elts.looks_like_elts(x.path):
            yield from debian_elts.parse_file(x.path)
        elif x.format is Format.DEBIAN:
            yield from debian.parse_file(str(x.path))
        elif x.format is Format.NVD:
            yield from nvd.parse_file(x.path)
        elif x.format is Format.KEV:
            yield from kev.parse_file(x.path)
        elif x.format is Format.EPSS:
            yield from epss.parse_file(x.path)
        elif x.format is Format.WOLFI:
            yield from wolfi.parse_file(x.path)
        elif x.format is Format.UPDATEINFO:
            yield from updateinfo.parse_file(x.path)
        elif x.format is Format.ORACLE:
            yield from oracle.parse_file(x.path)
        elif x.format is Format.AZURELINUX:
            yield from azurelinux.parse_file(x.path)
        elif x.format is Format.REDHAT_VEX:
            yield from redhat.parse_path(x.path)
        elif x.format is Format.BODHI:
            yield from fedora.parse_file(x.path)
        elif x.format is Format.PHOTON:
            yield from photon.parse_files([(x.path, "")])
    if alpine_files:
        yield from alpine.parse_files(alpine_files)
