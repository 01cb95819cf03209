"""Reading `--ignore-file`: an ignore list, an OpenVEX document or a CycloneDX VEX.

All three become `IgnoreRule`s: a vulnerability (by any of its ids) and, optionally, the packages
it is ignored for; `filters.suppress` applies them. The format is recognised from the content:

- an ignore list (YAML or JSON): `{"ignore": [{"id": "CVE-..", "package": NAME-or-PURL,
  "reason": "...", "expires": "2026-12-31"}]}`. `package` is optional (every package then);
  an entry whose `expires` day has passed no longer applies, and a warning says so.
- OpenVEX (`statements`): statements with status `not_affected` or `fixed` apply. A product
  naming this image (its manifest digest, or a `pkg:oci` purl of its name with no digest)
  applies to its `subcomponents`, or to the whole image when it lists none; a product that is a
  package purl applies to that package wherever it is; other products are other images' and
  are skipped.
- CycloneDX VEX (`bomFormat: CycloneDX` with `vulnerabilities`): analysis states
  `not_affected`, `false_positive`, `resolved` and `resolved_with_pedigree` apply, to the
  packages their `affects` refs resolve to (bom-refs of the document's components, or purls);
  a ref to the document's subject applies to the whole image, as does a vulnerability with no
  `affects`; a ref that resolves to nothing is skipped with a warning.

VEX documents have no expiry of their own. A VEX justification is kept (mapped to CycloneDX's
words) so that `--format cyclonedx-json` passes it on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from packageurl import PackageURL

from dockwatch.errors import InvalidInput

logger = logging.getLogger(__name__)

MAX_BYTES = 32 * 1024 * 1024
"""Larger files are refused: an ignore list or a VEX document is written by people or tools
about one image, never this big."""
MAX_DEPTH = 32
"""Component nesting followed in a CycloneDX document."""

#: OpenVEX justification -> CycloneDX analysis justification
OPENVEX_JUSTIFICATIONS = {
    "component_not_present": "code_not_present",
    "vulnerable_code_not_present": "code_not_present",
    "vulnerable_code_not_in_execute_path": "code_not_reachable",
    "vulnerable_code_cannot_be_controlled_by_adversary": "requires_environment",
    "inline_mitigations_already_exist": "protected_by_mitigating_control",
}
OPENVEX_SUPPRESS = {"not_affected", "fixed"}
OPENVEX_KNOWN = OPENVEX_SUPPRESS | {"affected", "under_investigation"}
CDX_SUPPRESS = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
CDX_JUSTIFICATIONS = {
    "code_not_present", "code_not_reachable", "requires_configuration", "requires_dependency",
    "requires_environment", "protected_by_compiler", "protected_at_runtime",
    "protected_at_perimeter", "protected_by_mitigating_control",
}  # fmt: skip

_PEP503 = re.compile(r"[-_.]+")
_ONE_DAY = timedelta(days=1)


class IgnoreFileError(InvalidInput):
    """The ignore file cannot be used (unreadable, not one of the three shapes, malformed)."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"ignore file {source}: {problem}")
        self.source = source
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ImageIdentity:
    """What a VEX product is compared with to decide that it names the scanned image."""

    digest: str | None = None
    """The manifest digest (`sha256:...`)."""
    name: str | None = None
    """The image's short name (the repository's last part), for `pkg:oci/NAME` products."""


def _norm_name(name: str, ptype: str | None = None) -> str:
    """Names compared case-insensitively; Python names by PEP 503 (`Foo_Bar` == `foo-bar`)."""
    lowered = name.strip().lower()
    return _PEP503.sub("-", lowered) if ptype in (None, "pypi", "python") else lowered


@dataclass(frozen=True, slots=True)
class PackageSelector:
    """A package an ignore rule is limited to: by name, or by purl (version optional)."""

    name: str
    """Normalized name (see `_norm_name`)."""
    purl_type: str | None = None
    namespace: str | None = None
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> PackageSelector:
        """A selector from a package name or a purl (`pkg:pypi/requests@2.0.0`)."""
        text = text.strip()
        if text.startswith("pkg:"):
            purl = PackageURL.from_string(text)  # ValueError on a malformed purl
            ptype = purl.type.lower()
            return cls(
                _norm_name(purl.name, ptype),
                ptype,
                (purl.namespace or "").lower() or None,
                purl.version,
            )
        return cls(_norm_name(text))

    def matches(self, package: Mapping[str, Any]) -> bool:
        """Does the (Inspector-shaped) vulnerable package fall under this selector?"""
        names = {str(package.get("name") or ""), str(package.get("sourceName") or "")} - {""}
        ptype: str | None = None
        purl_text = str(package.get("purl") or "")
        parsed: PackageURL | None = None
        if purl_text.startswith("pkg:"):
            try:
                parsed = PackageURL.from_string(purl_text)
                ptype = parsed.type.lower()
            except ValueError:
                parsed = None
        if self.purl_type is not None:
            if parsed is None or ptype != self.purl_type:
                return False
            if self.namespace and (parsed.namespace or "").lower() != self.namespace:
                return False
            names.add(parsed.name)
            if self.version is not None and self.version not in (
                str(package.get("version")),
                parsed.version,
            ):
                return False
        return any(_norm_name(n, ptype) == self.name for n in names)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """One decision: ignore a vulnerability (for some packages, or all) for a reason."""

    ids: frozenset[str]
    """The vulnerability's ids, upper-cased (a finding matches by its id or a related id)."""
    packages: tuple[PackageSelector, ...]
    """The packages it applies to; empty means every package of the image."""
    reason: str
    origin: str
    """Where it came from, for messages: `ignore list entry 2`, `OpenVEX statement 1`."""
    state: str = "not_affected"
    """The VEX state to report: `not_affected`, `fixed`, `false_positive`, `resolved`..."""
    justification: str | None = None
    """A CycloneDX analysis justification, when the source gave one."""
    expires: datetime | None = None

    def suppression(self) -> dict[str, Any]:
        """The `suppression` object a suppressed finding carries."""
        out: dict[str, Any] = {"reason": self.reason, "origin": self.origin, "state": self.state}
        if self.justification:
            out["justification"] = self.justification
        if self.expires is not None:
            out["expiresAt"] = self.expires.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class IgnoreFile:
    """An ignore file, read: its kind, the rules in force, and what the user should know."""

    kind: str
    """`ignore list`, `OpenVEX` or `CycloneDX VEX`."""
    rules: tuple[IgnoreRule, ...]
    warnings: tuple[str, ...] = ()


def load(path: Path, image: ImageIdentity, now: datetime) -> IgnoreFile:
    """Read and interpret the file at `path` (see the module docstring)."""
    return parse(read(path), str(path), image, now)


def read(path: Path) -> bytes:
    """The file's bytes, refusing one larger than `MAX_BYTES`."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise IgnoreFileError(str(path), f"{size} bytes is more than the {MAX_BYTES} allowed")
        return path.read_bytes()
    except OSError as exc:
        raise IgnoreFileError(str(path), exc.strerror or str(exc)) from exc


class _PlainLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an ignore file never needs them, and aliases let a
    small file stand for an exponentially large document (a "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "YAML aliases are not allowed", None)
        return super().compose_node(parent, index)


def _decode(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IgnoreFileError(source, "not UTF-8 text") from exc
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.load(text, Loader=_PlainLoader)  # a SafeLoader, minus aliases
    except yaml.YAMLError as exc:
        raise IgnoreFileError(source, f"neither JSON nor YAML ({exc})") from exc


def parse(data: bytes, source: str, image: ImageIdentity, now: datetime) -> IgnoreFile:
    """Interpret the bytes of an ignore file."""
    doc = _decode(data, source)
    if isinstance(doc, Mapping):
        if "ignore" in doc:
            return _ignore_list(doc, source, now)
        if "statements" in doc:
            return _openvex(doc, source, image)
        if str(doc.get("bomFormat", "")).lower() == "cyclonedx":
            return _cyclonedx(doc, source, image)
    raise IgnoreFileError(
        source,
        "expected an ignore list ({ignore: [{id, package?, reason, expires?}]}), "
        "an OpenVEX document (statements) or a CycloneDX VEX (bomFormat: CycloneDX, "
        "vulnerabilities)",
    )


def _expiry(value: object, source: str, where: str) -> datetime | None:
    """The first instant an entry no longer applies: a date means through that day (UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC) + _ONE_DAY
    if isinstance(value, str):
        try:
            return _expiry(date.fromisoformat(value.strip()), source, where)
        except ValueError:
            pass
        try:
            return _expiry(
                datetime.fromisoformat(value.strip().replace("Z", "+00:00")), source, where
            )
        except ValueError:
            pass
    raise IgnoreFileError(source, f"{where}: expires {value!r} is not a date (YYYY-MM-DD)")


def _ignore_list(doc: Mapping[str, Any], source: str, now: datetime) -> IgnoreFile:
    entries = doc.get("ignore")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise IgnoreFileError(source, "`ignore` must be a list of entries")
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    for number, entry in enumerate(entries, 1):
        where = f"entry {number}"
        if not isinstance(entry, Mapping):
            raise IgnoreFileError(source, f"{where} is not a mapping")
        vuln = entry.get("id")
        if not isinstance(vuln, str) or not vuln.strip():
            raise IgnoreFileError(source, f"{where} has no `id` (a vulnerability id)")
        unknown = set(entry) - {"id", "package", "reason", "expires"}
        if unknown:
            raise IgnoreFileError(source, f"{where} has unknown keys: {', '.join(sorted(unknown))}")
        selectors: tuple[PackageSelector, ...] = ()
        package = entry.get("package")
        if package is not None:
            if not isinstance(package, str) or not package.strip():
                raise IgnoreFileError(source, f"{where}: `package` must be a name or a purl")
            try:
                selectors = (PackageSelector.parse(package),)
            except ValueError as exc:
                raise IgnoreFileError(source, f"{where}: bad purl {package!r}: {exc}") from exc
        reason = entry.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise IgnoreFileError(source, f"{where}: `reason` must be text")
        expires = _expiry(entry.get("expires"), source, where)
        if expires is not None and now >= expires:
            warnings.append(
                f"ignore file {source}: {where} ({vuln.strip()}) expired on "
                f"{entry.get('expires')} and no longer applies"
            )
            continue
        rules.append(
            IgnoreRule(
                frozenset({vuln.strip().upper()}),
                selectors,
                (reason or "").strip() or "listed in the ignore file",
                f"ignore list entry {number}",
                expires=expires,
            )
        )
    return IgnoreFile("ignore list", tuple(rules), tuple(warnings))


def _ids(value: object) -> Iterator[str]:
    """Identifier strings of an OpenVEX product or subcomponent."""
    if isinstance(value, str):
        yield value
        return
    if not isinstance(value, Mapping):
        return
    for key in ("@id", "id"):
        if isinstance(value.get(key), str):
            yield value[key]
    for section in ("identifiers", "hashes"):
        items = value.get(section)
        if isinstance(items, Mapping):
            yield from (v for v in items.values() if isinstance(v, str))


def _names_image(identifiers: list[str], image: ImageIdentity) -> bool:
    hex_digest = (image.digest or "").split(":", 1)[-1].lower()
    for ident in identifiers:
        text = unquote(ident).lower()
        if hex_digest and hex_digest in text:
            return True
        if text.startswith("pkg:oci/") and image.name:
            try:
                purl = PackageURL.from_string(ident)
            except ValueError:
                continue
            if purl.version is None and purl.name.lower() == image.name.rsplit("/", 1)[-1].lower():
                return True
    return False


def _package_purl(identifiers: list[str]) -> PackageSelector | None:
    for ident in identifiers:
        if ident.startswith("pkg:") and not ident.lower().startswith("pkg:oci/"):
            try:
                return PackageSelector.parse(ident)
            except ValueError:
                continue
    return None


def _selector_of(value: object) -> PackageSelector | None:
    identifiers = list(_ids(value))
    found = _package_purl(identifiers)
    if found is None and isinstance(value, str) and value.strip() and ":" not in value:
        found = PackageSelector.parse(value)  # a bare package name
    return found


def _openvex(doc: Mapping[str, Any], source: str, image: ImageIdentity) -> IgnoreFile:
    statements = doc.get("statements")
    if not isinstance(statements, list):
        raise IgnoreFileError(source, "`statements` must be a list")
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    other_images = 0
    for number, st in enumerate(statements, 1):
        where = f"statement {number}"
        if not isinstance(st, Mapping):
            raise IgnoreFileError(source, f"{where} is not an object")
        vuln = st.get("vulnerability")
        ids: set[str] = set()
        if isinstance(vuln, str):
            ids.add(vuln)
        elif isinstance(vuln, Mapping):
            ids.update(v for v in (vuln.get("name"), vuln.get("@id")) if isinstance(v, str))
            ids.update(a for a in vuln.get("aliases") or () if isinstance(a, str))
        ids = {i.strip().upper() for i in ids if i.strip()}
        if not ids:
            raise IgnoreFileError(source, f"{where} names no vulnerability")
        status = str(st.get("status") or "")
        if status not in OPENVEX_KNOWN:
            warnings.append(f"ignore file {source}: {where} has unknown status {status!r}; skipped")
            continue
        if status not in OPENVEX_SUPPRESS:
            continue
        products = st.get("products") or []
        if not isinstance(products, list):
            raise IgnoreFileError(source, f"{where}: `products` must be a list")
        statement_subs = st.get("subcomponents") or []  # OpenVEX 0.0.x kept them here
        whole_image = False
        selectors: list[PackageSelector] = []
        for product in products:
            identifiers = list(_ids(product))
            subs = product.get("subcomponents") if isinstance(product, Mapping) else None
            subs = list(subs or []) + (
                list(statement_subs) if isinstance(statement_subs, list) else []
            )
            if _names_image(identifiers, image):
                chosen = [s for s in (_selector_of(x) for x in subs) if s is not None]
                if chosen:
                    selectors.extend(chosen)
                else:
                    whole_image = True
                continue
            selector = _package_purl(identifiers)
            if selector is not None:
                selectors.append(selector)
        if not whole_image and not selectors:
            other_images += 1
            continue
        justification = OPENVEX_JUSTIFICATIONS.get(str(st.get("justification") or ""))
        reason = next(
            (
                str(st[k]).strip()
                for k in ("impact_statement", "status_notes", "action_statement")
                if isinstance(st.get(k), str) and st[k].strip()
            ),
            f"OpenVEX: {status}"
            + (f" ({st['justification']})" if isinstance(st.get("justification"), str) else ""),
        )
        rules.append(
            IgnoreRule(
                frozenset(ids),
                () if whole_image else tuple(selectors),
                reason,
                f"OpenVEX statement {number}",
                state=status,
                justification=justification,
            )
        )
    if other_images:
        logger.info("%s: %d statements are about other products", source, other_images)
    return IgnoreFile("OpenVEX", tuple(rules), tuple(warnings))


@dataclass(frozen=True, slots=True)
class _Ref:
    purl: str | None
    subject: bool
    version: str | None


def _walk_components(doc: Mapping[str, Any]) -> dict[str, _Ref]:
    refs: dict[str, _Ref] = {}
    meta = doc.get("metadata")
    stack: list[tuple[Any, int, bool]] = []
    if isinstance(meta, Mapping) and isinstance(meta.get("component"), Mapping):
        stack.append((meta["component"], 0, True))
    stack.extend((c, 0, False) for c in doc.get("components") or () if isinstance(c, Mapping))
    while stack:
        comp, depth, subject = stack.pop()
        ref = comp.get("bom-ref")
        if isinstance(ref, str):
            purl = comp.get("purl") if isinstance(comp.get("purl"), str) else None
            version = comp.get("version") if isinstance(comp.get("version"), str) else None
            refs.setdefault(ref, _Ref(purl, subject, version))
        if depth < MAX_DEPTH:
            stack.extend(
                (c, depth + 1, False)
                for c in comp.get("components") or ()
                if isinstance(c, Mapping)
            )
    return refs


def _subject_is_image(ref: _Ref, image: ImageIdentity) -> bool:
    """A document's subject is taken to be this image unless its purl or digest say otherwise."""
    identifiers = [x for x in (ref.purl, ref.version) if x]
    if not identifiers:
        return True
    if any(x.startswith("sha256:") or x.lower().startswith("pkg:oci/") for x in identifiers):
        return _names_image(identifiers, image)
    return True


def _cyclonedx(doc: Mapping[str, Any], source: str, image: ImageIdentity) -> IgnoreFile:
    vulnerabilities = doc.get("vulnerabilities")
    if not isinstance(vulnerabilities, list):
        raise IgnoreFileError(source, "a CycloneDX VEX needs a `vulnerabilities` list")
    refs = _walk_components(doc)
    rules: list[IgnoreRule] = []
    warnings: list[str] = []
    for number, v in enumerate(vulnerabilities, 1):
        where = f"vulnerability {number}"
        if not isinstance(v, Mapping):
            raise IgnoreFileError(source, f"{where} is not an object")
        ids = {v["id"]} if isinstance(v.get("id"), str) else set()
        ids.update(
            r["id"]
            for r in v.get("references") or ()
            if isinstance(r, Mapping) and isinstance(r.get("id"), str)
        )
        ids = {i.strip().upper() for i in ids if i.strip()}
        if not ids:
            raise IgnoreFileError(source, f"{where} has no `id`")
        analysis = v.get("analysis")
        state = str(analysis.get("state") or "") if isinstance(analysis, Mapping) else ""
        if state not in CDX_SUPPRESS:
            continue
        assert isinstance(analysis, Mapping)
        affects = v.get("affects") or []
        whole_image = not affects
        selectors: list[PackageSelector] = []
        for target in affects if isinstance(affects, list) else []:
            ref = target.get("ref") if isinstance(target, Mapping) else None
            if not isinstance(ref, str):
                continue
            key = ref.split("#", 1)[1] if ref.startswith("urn:cdx:") and "#" in ref else ref
            found = refs.get(key)
            if found is None and key.startswith("pkg:"):
                found = _Ref(key, False, None)
            if found is None:
                warnings.append(
                    f"ignore file {source}: {where} ({sorted(ids)[0]}) affects {ref!r}, "
                    "which names no component of the document; skipped"
                )
                continue
            if found.subject or (found.purl or "").lower().startswith("pkg:oci/"):
                if _subject_is_image(found, image):
                    whole_image = True
                continue
            selector = _package_purl([found.purl] if found.purl else [])
            if selector is not None:
                selectors.append(selector)
        if not whole_image and not selectors:
            continue
        justification = str(analysis.get("justification") or "")
        detail = analysis.get("detail")
        rules.append(
            IgnoreRule(
                frozenset(ids),
                () if whole_image else tuple(selectors),
                detail.strip()
                if isinstance(detail, str) and detail.strip()
                else f"CycloneDX VEX: {state}",
                f"CycloneDX VEX {where}",
                state=state,
                justification=justification if justification in CDX_JUSTIFICATIONS else None,
            )
        )
    return IgnoreFile("CycloneDX VEX", tuple(rules), tuple(warnings))
