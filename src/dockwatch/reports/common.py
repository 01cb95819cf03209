"""What every report shares: the tool, the image's names, the time, and the order of entries.

Findings exports read Inspector-shaped finding dicts (`dockwatch.findings.shape.inspector_finding`)
and nothing else, so the API (stored findings) and `dockwatch scan` (findings made on the fly)
export the same documents. SBOM formats differ in shape, not in content: they list packages in
`ordered_packages()` order and name the image the same way, so a diff between two formats of one
image is a diff of shapes only. Reports are pure: the same input and context give the same text.
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import UTC, datetime
from typing import Any

from dockwatch.model.package import Package
from dockwatch.value_class import frozen

TOOL_NAME = "dockwatch"
NOT_AVAILABLE = "NotAvailable"
"""Inspector's `fixedInVersion` when no fix is known."""

#: purl type -> dockwatch package type (the `type` of `dockwatch sbom`)
PURL_TYPES = {
    "deb": "deb", "apk": "apk", "rpm": "rpm", "pypi": "python", "npm": "npm", "maven": "java",
    "golang": "go", "cargo": "rust", "gem": "gem", "composer": "composer", "nuget": "nuget",
    "bitnami": "bitnami",
}  # fmt: skip
#: Inspector packageManager -> dockwatch package type, when a package has no usable purl
MANAGER_TYPES = {
    "PYTHONPKG": "python", "NODEPKG": "npm", "JAR": "java", "GOBINARY": "go", "CARGO": "rust",
    "GEMSPEC": "gem", "COMPOSER": "composer", "DOTNET_CORE": "nuget", "NUGET": "nuget",
    "PIP": "python", "PIPENV": "python", "POETRY": "python", "NPM": "npm", "YARN": "npm",
    "GOMOD": "go", "POM": "java", "BUNDLER": "gem",
}  # fmt: skip


def tool_version() -> str:
    """dockwatch's version, as recorded in every document."""
    from dockwatch import __version__

    return __version__


@frozen
class DatabaseInfo:
    """The vulnerability database the findings were matched against."""

    version: int
    """The database version (`dockwatch db status`), raised by every change."""
    updated_at: datetime | None
    """When its sources were last refreshed (a sync or import that succeeded)."""
    age_days: int | None
    """Whole days between `updated_at` and the export time."""

    def to_json(self) -> dict[str, Any]:
        """The `database` object of the JSON export."""
        return {
            "version": self.version,
            "updatedAt": None if self.updated_at is None else iso(self.updated_at),
            "ageDays": self.age_days,
        }

    def describe(self) -> str:
        """`version 12, updated 2026-01-02 (3 days ago)` for people."""
        if self.updated_at is None:
            return f"version {self.version}"
        age = "" if self.age_days is None else f" ({self.age_days} days ago)"
        return f"version {self.version}, updated {self.updated_at.date().isoformat()}{age}"


@frozen
class ExportContext:
    """Everything an export says besides the findings."""

    image_reference: str | None = None
    """What the user named (`oci:./img:latest`, `docker://host/app:1`)."""
    image_digest: str | None = None
    """The manifest digest of the image scanned."""
    image_name: str | None = None
    """A short name (the repository); taken from the findings when None."""
    platform: str | None = None
    os: str | None = None
    """The distribution found (`debian 12`), if any."""
    database: DatabaseInfo | None = None
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    tool_name: str = TOOL_NAME
    tool_version: str = field(default_factory=tool_version)
    width: int | None = None
    """Table only: the line width to fit (None: as wide as the content)."""
    color: bool = False
    """Table only: ANSI colours (a terminal that wants them)."""
    incomplete: tuple[str, ...] = ()
    """One sentence per layer whose read was cut short: the scan may miss packages, and every
    format says so."""


def iso(value: datetime) -> str:
    """RFC 3339 in UTC with a `Z` (what SARIF, ASFF and most consumers expect)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """A finding's ISO timestamp back to a datetime (None when absent or unreadable)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def printable(text: object, limit: int = 4096) -> str:
    """`text` without control characters (escape sequences from a hostile image stay inert
    on a terminal), cut to `limit` characters."""
    s = "" if text is None else str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    if s.isprintable():
        return s
    return "".join(ch if ch.isprintable() else "?" for ch in s)


def severity_rank(severity: object) -> int:
    """Position in CRITICAL..UNTRIAGED (0 is the worst); unknown words sort last."""
    ranks = _severity_ranks()
    return ranks.get(str(severity).upper(), len(ranks))


@functools.cache
def _severity_ranks() -> dict[str, int]:
    """Rank of each severity word, built on first use: `findings.build` (and the CVSS library
    under it) stays out of processes that only write SBOMs."""
    from dockwatch.findings.build import SEVERITY_ORDER

    return {word: rank for rank, word in enumerate(SEVERITY_ORDER)}


def details(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    """`packageVulnerabilityDetails` (empty when missing)."""
    value = finding.get("packageVulnerabilityDetails")
    return value if isinstance(value, Mapping) else {}


def vulnerability_id(finding: Mapping[str, Any]) -> str:
    """The finding's vulnerability id (the CVE when there is one)."""
    return str(details(finding).get("vulnerabilityId") or finding.get("title") or "UNKNOWN")


def related(finding: Mapping[str, Any]) -> list[str]:
    """The other ids of the vulnerability (source advisories, aliases)."""
    return [str(v) for v in details(finding).get("relatedVulnerabilities") or ()]


def packages(finding: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The finding's vulnerable packages."""
    return [p for p in details(finding).get("vulnerablePackages") or () if isinstance(p, Mapping)]


def image_details(finding: Mapping[str, Any]) -> Mapping[str, Any]:
    """`resources[0].details.awsEcrContainerImage` (empty when missing)."""
    resources = finding.get("resources") or ()
    if not resources or not isinstance(resources[0], Mapping):
        return {}
    image = (resources[0].get("details") or {}).get("awsEcrContainerImage")
    return image if isinstance(image, Mapping) else {}


def fixed_version(package: Mapping[str, Any]) -> str | None:
    """The fixing version, None when no fix is known."""
    value = package.get("fixedInVersion")
    return None if value in (None, "", NOT_AVAILABLE) else str(value)


def package_type(package: Mapping[str, Any], finding: Mapping[str, Any] | None = None) -> str:
    """The dockwatch package type (`python`, `deb`) from the purl, else the match evidence,
    else Inspector's packageManager."""
    purl = str(package.get("purl") or "")
    if purl.startswith("pkg:"):
        ptype = purl[4:].split("/", 1)[0].lower()
        if ptype in PURL_TYPES:
            return PURL_TYPES[ptype]
    if finding is not None:
        wanted = f"/{package.get('name')}@{package.get('version')}"
        for e in finding.get("evidence") or ():
            text = str(e.get("package", "")) if isinstance(e, Mapping) else ""
            if text.endswith(wanted):
                return text[: -len(wanted)]
    manager = str(package.get("packageManager") or "")
    return MANAGER_TYPES.get(manager, "os" if manager == "OS" else manager.lower() or "unknown")


def evidence_for(finding: Mapping[str, Any], package: Mapping[str, Any]) -> list[Any]:
    """The match evidence about one package of the finding."""
    wanted = f"/{package.get('name')}@{package.get('version')}"
    return [
        e
        for e in finding.get("evidence") or ()
        if isinstance(e, Mapping) and str(e.get("package", "")).endswith(wanted)
    ]


def short_hash(*parts: object, size: int = 16) -> str:
    """A stable identifier from `parts` (bom-refs, fingerprints)."""
    text = "\0".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:size]


@frozen
class Row:
    """One (finding, vulnerable package) pair: the unit of the flat formats."""

    finding: Mapping[str, Any]
    package: Mapping[str, Any]

    @property
    def vulnerability_id(self) -> str:
        """The finding's vulnerability id."""
        return vulnerability_id(self.finding)

    @property
    def severity(self) -> str:
        """The finding's severity."""
        return str(self.finding.get("severity") or "UNTRIAGED")

    @property
    def status(self) -> str:
        """ACTIVE, SUPPRESSED or CLOSED."""
        return str(self.finding.get("status") or "ACTIVE")

    @property
    def package_type(self) -> str:
        """The dockwatch package type."""
        return package_type(self.package, self.finding)

    @property
    def fixed_in(self) -> str | None:
        """The fixing version, None when there is none."""
        return fixed_version(self.package)

    @property
    def layer(self) -> str | None:
        """The digest of the layer that installed the package."""
        value = self.package.get("sourceLayerHash")
        return None if value is None else str(value)


def row_key(row: Row) -> tuple[int, str, str, str, str, str]:
    """Worst first, then by vulnerability, package, version and layer."""
    return (
        severity_rank(row.severity),
        row.vulnerability_id,
        str(row.package.get("name") or ""),
        str(row.package.get("version") or ""),
        row.layer or "",
        row.status,
    )


def rows(findings: Iterable[Mapping[str, Any]], statuses: Sequence[str] | None = None) -> list[Row]:
    """Every (finding, package) pair in export order; only `statuses` when given."""
    out = [
        Row(f, p)
        for f in findings
        if statuses is None or str(f.get("status") or "ACTIVE") in statuses
        for p in packages(f)
    ]
    return sorted(out, key=row_key)


def ordered_findings(findings: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Findings worst first, then by vulnerability id and ARN."""
    return sorted(
        findings,
        key=lambda f: (
            severity_rank(f.get("severity")),
            vulnerability_id(f),
            str(f.get("findingArn") or ""),
        ),
    )


def severity_counts(findings: Iterable[Mapping[str, Any]], status: str) -> dict[str, int]:
    """Findings of one status by severity, worst first (only severities present)."""
    counts: dict[str, int] = {}
    for f in findings:
        if str(f.get("status") or "ACTIVE") == status:
            sev = str(f.get("severity") or "UNTRIAGED")
            counts[sev] = counts.get(sev, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: severity_rank(kv[0])))


def subject_name(ctx: ExportContext, findings: Sequence[Mapping[str, Any]]) -> str:
    """The image's short name: the context's, else the findings' repository, else `image`."""
    if ctx.image_name:
        return ctx.image_name
    for f in findings:
        repo = image_details(f).get("repositoryName")
        if repo:
            return str(repo)
    return "image"


def image_digest(ctx: ExportContext, findings: Sequence[Mapping[str, Any]]) -> str | None:
    """The manifest digest: the context's, else the findings'."""
    if ctx.image_digest:
        return ctx.image_digest
    for f in findings:
        digest = image_details(f).get("imageHash")
        if digest:
            return str(digest)
    return None


# SBOM documents


def sort_key(p: Package) -> tuple[str, str, str, tuple[str, ...], str, str]:
    """Total order on packages: ecosystem, name, version, then where it was found."""
    return (p.type, p.name, p.version, p.locations, p.layer_digest or "", p.purl)


def ordered_packages(packages: Iterable[Package]) -> list[Package]:
    """`packages` in the deterministic order every format uses."""
    return sorted(packages, key=sort_key)


def package_id(p: Package) -> str:
    """A short identifier stable across runs, unique per (key, purl, locations, layer) within an
    image: two copies of one jar in different places stay two entries."""
    text = "\0".join([p.type, p.name, p.version, p.purl, p.layer_digest or "", *p.locations])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def created_at(created: datetime | None = None) -> datetime:
    """The document time: `created`, else `SOURCE_DATE_EPOCH`, else now (UTC, whole seconds)."""
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
        created = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.astimezone(UTC).replace(microsecond=0)


def image_name(reference: str) -> str:
    """A short name for the image from its source string: the repository for `docker://` and
    `dockwatch:`, the folder or file name for layouts and archives (`oci:/x/debian:latest` ->
    `debian`)."""
    transport, _, rest = reference.partition(":")
    if transport == "docker":
        rest = rest.removeprefix("//")
        rest = rest.split("@", 1)[0]
        slash, colon = rest.rfind("/"), rest.rfind(":")
        if colon > slash:
            rest = rest[:colon]
        first, sep, repo = rest.partition("/")
        return repo if sep and ("." in first or ":" in first or first == "localhost") else rest
    if transport == "dockwatch":
        repo = rest.split("@", 1)[0]
        slash, colon = repo.rfind("/"), repo.rfind(":")
        return repo[:colon] if colon > slash else repo
    if transport in ("oci", "oci-archive", "docker-archive"):
        path = rest.split(":", 1)[0].rstrip("/")
        base = posixpath.basename(path) or path or "image"
        for ext in (".tar.gz", ".tgz", ".tar"):
            if base.endswith(ext):
                return base[: -len(ext)] or base
        return base
    return reference or "image"


def image_tag(reference: str) -> str | None:
    """The tag the source string names, if any (`oci:DIR:TAG`, `docker://H/R:TAG`)."""
    transport, _, rest = reference.partition(":")
    if transport in ("oci", "oci-archive", "docker-archive"):
        _, sep, tag = rest.partition(":")
        return (tag or None) if sep else None
    if transport in ("docker", "dockwatch"):
        rest = rest.removeprefix("//")
        if "@" in rest:
            return None
        slash, colon = rest.rfind("/"), rest.rfind(":")
        return (rest[colon + 1 :] or None) if colon > slash else None
    return None


def image_purl(reference: str, manifest_digest: str) -> str:
    """`pkg:oci/NAME@DIGEST?repository_url=...&tag=...`, the purl spec's OCI type."""
    from packageurl import PackageURL

    qualifiers: dict[str, str] = {}
    transport, _, rest = reference.partition(":")
    if transport == "docker":
        repo_url = rest.removeprefix("//").split("@", 1)[0]
        slash, colon = repo_url.rfind("/"), repo_url.rfind(":")
        if colon > slash:
            repo_url = repo_url[:colon]
        qualifiers["repository_url"] = repo_url.lower()
    tag = image_tag(reference)
    if tag:
        qualifiers["tag"] = tag
    short = image_name(reference).rsplit("/", 1)[-1].lower()
    return str(
        PackageURL(type="oci", name=short, version=manifest_digest, qualifiers=qualifiers or None)
    )
