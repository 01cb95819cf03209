"""Feed fixtures built in code, in each source's exact published format.

Every small fixture follows an example its upstream documents (the URL is next to it) and covers
the variants upstream documents; the `generated_*` functions build real-sized files from a seeded
random generator for the memory-cap tests.
"""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
import yaml

# --- Debian security tracker -----------------------------------------------------------------
# Format: https://security-tracker.debian.org/tracker/data/json, written by `_get_json` in
# https://salsa.debian.org/security-tracker-team/security-tracker/-/blob/master/bin/tracker_service.py
# (null fields removed by its clean_dict; urgency "**" marks NVD-derived urgencies, per the
# tracker's own help text in that file). The openssl entry follows the tracker's CVE page layout
# for CVE-2014-0160 (https://security-tracker.debian.org/tracker/CVE-2014-0160).

DEBIAN_EXAMPLE: dict[str, Any] = {
    "openssl": {
        "CVE-2014-0160": {
            "description": "The (1) TLS and (2) DTLS implementations in OpenSSL 1.0.1 before "
            "1.0.1g do not properly handle Heartbeat Extension packets ...",
            "debianbug": 743883,
            "scope": "remote",
            "releases": {
                # fixed in a stable release, via the security repository
                "bookworm": {
                    "status": "resolved",
                    "repositories": {
                        "bookworm": "3.0.11-1~deb12u2",
                        "bookworm-security": "3.0.13-1~deb12u1",
                    },
                    "fixed_version": "1.0.1g-1",
                    "urgency": "high",
                },
                # `<not-affected>`: fixed_version 0
                "trixie": {
                    "status": "resolved",
                    "repositories": {"trixie": "3.5.1-1"},
                    "fixed_version": "0",
                    "urgency": "not yet assigned",
                },
                # unstable is not a release we match
                "sid": {
                    "status": "resolved",
                    "repositories": {"sid": "3.5.1-1"},
                    "fixed_version": "1.0.1g-1",
                    "urgency": "high",
                },
            },
        },
        "CVE-2023-5678": {
            "description": "Generating excessively long X9.42 DH keys ...",
            "scope": "local",
            "releases": {
                # open, no DSA planned (ignored), NVD-derived urgency
                "bookworm": {
                    "status": "open",
                    "repositories": {"bookworm": "3.0.11-1~deb12u2"},
                    "urgency": "low**",
                    "nodsa": "Minor issue",
                    "nodsa_reason": "ignored",
                },
                # resolved with an epoch-less fix, and the next point release flag
                "bullseye": {
                    "status": "resolved",
                    "repositories": {"bullseye": "1.1.1w-0+deb11u1"},
                    "fixed_version": "1.1.1w-0+deb11u1",
                    "urgency": "low",
                    "next_point_update": True,
                },
            },
        },
    },
    "linux": {
        "CVE-2024-26581": {
            "description": "In the Linux kernel, the following vulnerability has been resolved ...",
            "releases": {
                # the package is not security-supported in that release any more
                "bullseye": {
                    "status": "open",
                    "repositories": {"bullseye": "5.10.209-2"},
                    "urgency": "end-of-life",
                },
                # unimportant: affected, but Debian does not consider it a security issue
                "bookworm": {
                    "status": "open",
                    "repositories": {"bookworm": "6.1.76-1"},
                    "urgency": "unimportant",
                },
                # postponed: fixed later in a point release
                "trixie": {
                    "status": "open",
                    "repositories": {"trixie": "6.6.15-2"},
                    "urgency": "not yet assigned",
                    "nodsa": "Minor issue, will be fixed in a point release",
                    "nodsa_reason": "postponed",
                },
            },
        },
    },
    "bash": {
        # TEMP ids are the tracker's names for issues without a CVE yet
        "TEMP-0000000-F7A20F": {
            "releases": {
                "bookworm": {
                    "status": "undetermined",
                    "repositories": {"bookworm": "5.2.15-2"},
                    "urgency": "not yet assigned",
                },
                # epoch in a fixed version
                "trixie": {
                    "status": "resolved",
                    "repositories": {"trixie": "5.2.21-2"},
                    "fixed_version": "1:5.2.21-1",
                    "urgency": "medium",
                },
            }
        },
    },
}


def debian_tracker(data: Mapping[str, Any] = DEBIAN_EXAMPLE) -> bytes:
    """The tracker's JSON encoding (compact, as `json.dumps(separators=(',', ':'))` writes it)."""
    return orjson.dumps(data)


def generated_debian(packages: int, cves_per_package: int, seed: int = 4) -> dict[str, Any]:
    """A real-sized tracker document (the real one has ~40k (package, CVE) pairs x releases)."""
    rnd = random.Random(seed)
    releases = ("bullseye", "bookworm", "trixie", "forky", "sid")
    urgencies = ("low", "medium", "high", "unimportant", "not yet assigned", "low**")
    doc: dict[str, Any] = {}
    for p in range(packages):
        issues: dict[str, Any] = {}
        for c in range(cves_per_package):
            rel: dict[str, Any] = {}
            for r in releases:
                kind = rnd.random()
                entry: dict[str, Any] = {
                    "repositories": {
                        r: f"{rnd.randint(1, 9)}.{rnd.randint(0, 20)}-{rnd.randint(1, 5)}"
                    },
                    "urgency": rnd.choice(urgencies),
                }
                if kind < 0.6:
                    entry["status"] = "resolved"
                    entry["fixed_version"] = (
                        "0"
                        if kind < 0.1
                        else f"{rnd.randint(1, 9)}.{rnd.randint(0, 20)}-{rnd.randint(1, 5)}+deb12u{rnd.randint(1, 3)}"
                    )
                elif kind < 0.95:
                    entry["status"] = "open"
                else:
                    entry["status"] = "undetermined"
                rel[r] = entry
            issues[f"CVE-{2000 + (p + c) % 26}-{p * cves_per_package + c + 10000}"] = {
                "description": "A generated description of a plausible flaw. " * 3,
                "scope": "remote",
                "releases": rel,
            }
        doc[f"pkg{p:05d}"] = issues
    return doc


# --- Alpine secdb ----------------------------------------------------------------------------
# Format: https://secdb.alpinelinux.org/v3.19/main.json (top-level keys as served there); the
# secfixes come from APKBUILD comments, https://wiki.alpinelinux.org/wiki/APKBUILD_Reference#secfixes
# (including the `0` version for "never affected"). The `CVE-... XSA-...` pair and the empty `{}`
# block are forms found in the published files (xen, heimdal).


def alpine_secdb(branch: str, repo: str, packages: Iterable[tuple[str, Any]]) -> bytes:
    """One secdb file: `packages` is (origin name, secfixes mapping)."""
    doc = {
        "apkurl": "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
        "archs": ["aarch64", "armhf", "armv7", "ppc64le", "riscv64", "s390x", "x86", "x86_64"],
        "reponame": repo,
        "urlprefix": "https://dl-cdn.alpinelinux.org/alpine",
        "distroversion": branch,
        "packages": [{"pkg": {"name": n, "secfixes": s}} for n, s in packages],
    }
    return orjson.dumps(doc)


ALPINE_MAIN_V319: list[tuple[str, dict[str, Any]]] = [
    ("openssl", {
        "3.1.4-r1": ["CVE-2023-5678"],
        "3.1.4-r0": ["CVE-2023-5363"],
        "3.1.2-r0": ["CVE-2023-3817"],
        "1.1.1g-r0": ["CVE-2020-1967"],
        "0": ["CVE-2022-3996"],
    }),
    ("xen", {"4.10.0-r2": ["CVE-2018-7540 XSA-252"], "4.10.0-r1": ["XSA-248"]}),
    ("heimdal", {"7.4.0-r0": {}, "7.1.0-r2": ["CVE-2017-17439"]}),
    ("busybox", {"1.36.1-r16": ["CVE-2016-10140", "CVE-2017-5595"], "1.36.1-r2": ["CVE-2022-48174"]}),
]  # fmt: skip
ALPINE_COMMUNITY_V319: list[tuple[str, dict[str, Any]]] = [
    ("php83", {"8.3.8-r0": ["CVE-2024-4577", "CVE-2024-5458"]}),
]
ALPINE_MAIN_V320: list[tuple[str, dict[str, Any]]] = [
    ("openssl", {"3.3.2-r0": ["CVE-2024-6119"], "3.1.4-r1": ["CVE-2023-5678"]}),
]


def generated_alpine(branch: str, repo: str, packages: int, seed: int = 7) -> bytes:
    """A real-sized secdb file (main.json of a branch has ~1,000 packages with secfixes)."""
    rnd = random.Random(seed)
    pk: list[tuple[str, dict[str, Any]]] = []
    n = 0
    for p in range(packages):
        fixes: dict[str, Any] = {}
        for _ in range(rnd.randint(1, 12)):
            ids = []
            for _ in range(rnd.randint(1, 4)):
                n += 1
                ids.append(f"CVE-{2015 + n % 10}-{n + 1000}")
            fixes[
                f"{rnd.randint(1, 9)}.{rnd.randint(0, 30)}.{rnd.randint(0, 9)}-r{rnd.randint(0, 9)}"
            ] = ids
        pk.append((f"apkg{p}", fixes))
    return alpine_secdb(branch, repo, pk)


# --- OSV / GHSA (npm, Maven, NuGet, RubyGems, Packagist) -------------------------------------
# Format: https://ossf.github.io/osv-schema/ ; GHSA's OSV export adds `database_specific`
# {cwe_ids, severity, github_reviewed, github_reviewed_at, nvd_published_at}
# (https://github.com/github/advisory-database#readme, "database_specific" section). The records
# below follow the schema's own examples (https://ossf.github.io/osv-schema/#examples) and GHSA's
# published records for the named advisories, trimmed.


def ghsa(
    ghsa_id: str,
    ecosystem: str,
    name: str,
    events: list[dict[str, str]],
    *,
    aliases: list[str] | None = None,
    severity: list[dict[str, str]] | None = None,
    db_severity: str = "HIGH",
    cwes: list[str] | None = None,
    versions: list[str] | None = None,
    range_type: str = "ECOSYSTEM",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A GHSA record as github/advisory-database publishes it (advisories/github-reviewed/...)."""
    affected: dict[str, Any] = {
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": range_type, "events": events}],
    }
    if versions is not None:
        affected["versions"] = versions
    rec: dict[str, Any] = {
        "schema_version": "1.4.0",
        "id": ghsa_id,
        "modified": "2024-02-16T08:24:56Z",
        "published": "2022-05-24T17:45:07Z",
        "aliases": aliases if aliases is not None else [],
        "summary": f"Vulnerability in {name}",
        "details": f"Details of the issue in {name}.",
        "severity": severity or [],
        "affected": [affected],
        "references": [
            {
                "type": "ADVISORY",
                "url": f"https://nvd.nist.gov/vuln/detail/{(aliases or ['X'])[0]}",
            },
            {"type": "PACKAGE", "url": f"https://example.invalid/{name}"},
        ],
        "database_specific": {
            "cwe_ids": cwes or [],
            "severity": db_severity,
            "github_reviewed": True,
            "github_reviewed_at": "2022-05-24T17:45:07Z",
            "nvd_published_at": None,
        },
    }
    if extra:
        rec.update(extra)
    return rec


GHSA_EXAMPLES: list[dict[str, Any]] = [
    # npm: lodash prototype pollution (GHSA-jf85-cpcp-j695 / CVE-2019-10744)
    ghsa("GHSA-jf85-cpcp-j695", "npm", "lodash", [{"introduced": "0"}, {"fixed": "4.17.12"}],
         aliases=["CVE-2019-10744"], cwes=["CWE-1321", "CWE-20"], db_severity="CRITICAL",
         severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:H"}]),
    # Maven: log4j-core Log4Shell (GHSA-jfh8-c2jp-5v3q / CVE-2021-44228): several ranges
    {**ghsa("GHSA-jfh8-c2jp-5v3q", "Maven", "org.apache.logging.log4j:log4j-core",
            [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}], aliases=["CVE-2021-44228"],
            cwes=["CWE-20", "CWE-400", "CWE-502", "CWE-917"], db_severity="CRITICAL",
            severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"},
                      {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"}])},
    # NuGet: case-insensitive id, last_affected event
    ghsa("GHSA-5crp-9r3c-p9vr", "NuGet", "Newtonsoft.Json",
         [{"introduced": "0"}, {"last_affected": "12.0.3"}], aliases=["CVE-2024-21907"],
         cwes=["CWE-755"], db_severity="HIGH"),
    # RubyGems: a limit event and an explicit versions list
    ghsa("GHSA-vr8q-g5c7-m54m", "RubyGems", "nokogiri",
         [{"introduced": "1.5.1"}, {"fixed": "1.5.4"}, {"limit": "1.6.0"}],
         aliases=["CVE-2012-6685"], db_severity="MODERATE", versions=["1.5.1", "1.5.2", "1.5.3"]),
    # Packagist: vendor/package, lower-cased; SEMVER range
    ghsa("GHSA-2m57-hf25-phgg", "Packagist", "Laravel/Framework",
         [{"introduced": "0"}, {"fixed": "6.20.11"}], aliases=["CVE-2021-21263"],
         db_severity="MODERATE", range_type="SEMVER"),
    # The schema's own GIT-range example form (repo + commit events) next to an ecosystem range
    {**ghsa("GHSA-xxxx-git0-test", "npm", "example-git",
            [{"introduced": "0"}, {"fixed": "1.0.1"}], db_severity="LOW"),
     "affected": [
         {"package": {"ecosystem": "npm", "name": "example-git", "purl": "pkg:npm/example-git"},
          "ranges": [
              {"type": "GIT", "repo": "https://github.com/example/example-git",
               "events": [{"introduced": "0"}, {"fixed": "6a3f1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c"}]},
              {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}]},
    # withdrawn advisory (OSV `withdrawn`)
    ghsa("GHSA-wwww-with-draw", "npm", "left-pad", [{"introduced": "0"}, {"fixed": "1.3.1"}],
         db_severity="LOW", extra={"withdrawn": "2023-01-05T12:00:00Z"}),
]  # fmt: skip


def osv_folder(root: Path, records: Iterable[Mapping[str, Any]], *, as_yaml: bool = False) -> Path:
    """Write records one per file, as advisory repositories do, plus licence/README files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "LICENSE").write_text("CC-BY-4.0\n")
    (root / "README.md").write_text("# advisories\n")
    for rec in records:
        sub = root / str(rec["affected"][0]["package"]["name"]).replace("/", "_").replace(":", "_")
        sub.mkdir(exist_ok=True)
        if as_yaml:
            (sub / f"{rec['id']}.yaml").write_text(yaml.safe_dump(dict(rec), sort_keys=True))
        else:
            (sub / f"{rec['id']}.json").write_bytes(orjson.dumps(rec))
    return root


def osv_zip(
    path: Path, records: Iterable[Mapping[str, Any]], *, shuffle_keys: bool = False
) -> Path:
    """An osv.dev-style all.zip: one `<id>.json` per record at the archive root."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for rec in records:
            data = dict(reversed(list(rec.items()))) if shuffle_keys else rec
            zf.writestr(f"{rec['id']}.json", orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return path


def generated_ghsa(count: int, seed: int = 11) -> list[dict[str, Any]]:
    """Real-sized GHSA-like records (the npm all.zip holds ~20,000)."""
    rnd = random.Random(seed)
    ecosystems = ("npm", "Maven", "NuGet", "RubyGems", "Packagist")
    out = []
    for i in range(count):
        eco = ecosystems[i % len(ecosystems)]
        name = f"group{i % 97}:artifact{i}" if eco == "Maven" else f"pkg-{i}"
        major = rnd.randint(0, 9)
        out.append(
            ghsa(f"GHSA-gen{i:05d}-aaaa", eco, name,
                 [{"introduced": f"{major}.0.0"}, {"fixed": f"{major}.{rnd.randint(1, 9)}.{rnd.randint(0, 9)}"}],
                 aliases=[f"CVE-2023-{i + 10000}"], cwes=["CWE-79"],
                 severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}])
        )  # fmt: skip
    return out


# --- NVD CVE API 2.0 -------------------------------------------------------------------------
# Format: https://nvd.nist.gov/developers/vulnerabilities ("CVE API" response example for
# CVE-2019-1010218) and its JSON schema
# https://csrc.nist.gov/schema/nvd/api/2.0/cve_api_json_2.0.schema.


def nvd_cve(
    cve_id: str,
    *,
    v40: str | None = None,
    v31: str | None = None,
    v30: str | None = None,
    v2: str | None = None,
    cwes: Iterable[str] = ("CWE-400",),
    status: str = "Analyzed",
    secondary_v31: str | None = None,
) -> dict[str, Any]:
    """One `vulnerabilities[]` item."""
    metrics: dict[str, Any] = {}
    if v40:
        metrics["cvssMetricV40"] = [
            {
                "source": "cna@example.org",
                "type": "Secondary",
                "cvssData": {
                    "version": "4.0",
                    "vectorString": v40,
                    "baseScore": 0.0,
                    "baseSeverity": "NONE",
                },
            }
        ]
    if v31:
        metrics["cvssMetricV31"] = [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "cvssData": {
                    "version": "3.1",
                    "vectorString": v31,
                    "baseScore": 0.0,
                    "baseSeverity": "NONE",
                },
                "exploitabilityScore": 3.9,
                "impactScore": 3.6,
            }
        ]
        if secondary_v31:
            metrics["cvssMetricV31"].append(
                {
                    "source": "cve@mitre.org",
                    "type": "Secondary",
                    "cvssData": {"version": "3.1", "vectorString": secondary_v31, "baseScore": 0.0},
                }
            )
    if v30:
        metrics["cvssMetricV30"] = [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "cvssData": {"version": "3.0", "vectorString": v30, "baseScore": 0.0},
            }
        ]
    if v2:
        metrics["cvssMetricV2"] = [
            {
                "source": "nvd@nist.gov",
                "type": "Primary",
                "cvssData": {"version": "2.0", "vectorString": v2, "baseScore": 0.0},
                "baseSeverity": "HIGH",
                "acInsufInfo": False,
            }
        ]
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "josh@bress.net",
            "published": "2019-07-22T18:15:10.917",
            "lastModified": "2020-09-30T13:40:18.163",
            "vulnStatus": status,
            "descriptions": [
                {"lang": "en", "value": "Cherokee Webserver Latest Cherokee Web server Upto Version 1.2.103 ..."},
                {"lang": "es", "value": "Cherokee Webserver ..."},
            ],
            "metrics": metrics,
            "weaknesses": [
                {"source": "nvd@nist.gov", "type": "Primary",
                 "description": [{"lang": "en", "value": c} for c in cwes]},
                {"source": "josh@bress.net", "type": "Secondary",
                 "description": [{"lang": "en", "value": "NVD-CWE-Other"}]},
            ],
            "configurations": [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [
                {"vulnerable": True, "criteria": "cpe:2.3:a:cherokee-project:cherokee_web_server:*:*:*:*:*:*:*:*",
                 "versionEndIncluding": "1.2.103", "matchCriteriaId": "DCE1E311-F9E5-4752-9F51-D5DA78B7BBFA"}]}]}],
            "references": [{"url": "https://i.imgur.com/PWCCyir.png", "source": "josh@bress.net", "tags": ["Exploit", "Third Party Advisory"]}],
        }
    }  # fmt: skip


NVD_EXAMPLES: list[dict[str, Any]] = [
    # the API documentation's example CVE, with its v3.1 and v2 metrics
    nvd_cve("CVE-2019-1010218", v31="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H",
            v2="AV:N/AC:L/Au:N/C:N/I:N/A:P"),
    # v4.0 (CNA, Secondary) + v3.1 with a secondary source
    nvd_cve("CVE-2024-3094", v40="CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H",
            v31="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H",
            secondary_v31="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:H/I:H/A:H", cwes=("CWE-506",)),
    # v3.0 only
    nvd_cve("CVE-2017-5638", v30="CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", cwes=("CWE-20",)),
    # rejected, no metrics
    nvd_cve("CVE-2023-0001", status="Rejected", cwes=()),
]  # fmt: skip


def nvd_page(items: list[dict[str, Any]], start: int, total: int, per_page: int) -> dict[str, Any]:
    """One API response page."""
    return {
        "resultsPerPage": per_page,
        "startIndex": start,
        "totalResults": total,
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2024-03-19T19:24:47.740",
        "vulnerabilities": items,
    }


def generated_nvd(count: int) -> list[dict[str, Any]]:
    """Real-sized NVD items (a full 2,000-result page is ~10-15 MB)."""
    vec = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    return [
        nvd_cve(f"CVE-2022-{i + 10000}", v31=vec, v2="AV:N/AC:L/Au:N/C:P/I:P/A:P")
        for i in range(count)
    ]


# --- CISA KEV --------------------------------------------------------------------------------
# Format: https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities_schema.json
# (the real catalogue is in ../shared/vulndata; this builder only makes malformed variants).


def kev_catalogue(entries: list[Any]) -> bytes:
    """A catalogue document."""
    return orjson.dumps(
        {
            "title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": "2025.08.25",
            "dateReleased": "2025-08-25T17:00:53.0983Z",
            "count": len(entries),
            "vulnerabilities": entries,
        }
    )


# --- EPSS ------------------------------------------------------------------------------------
# Format: https://www.first.org/epss/data_stats ("the CSV has a comment line with the model
# version and score date, then cve,epss,percentile"); files before model v2022.01.01 lacked the
# comment line (https://www.first.org/epss/user-guide).

EPSS_EXAMPLE_ROWS = [
    ("CVE-1999-0001", 0.01141, 0.77295),
    ("CVE-2021-44228", 0.97565, 0.99996),
    ("CVE-2014-0160", 0.97458, 0.99948),
    ("CVE-2024-0001", 0.00043, 0.0793),
]


def epss_csv(
    rows: Iterable[tuple[str, float, float]],
    *,
    model_version: str | None = "v2025.03.14",
    score_date: str = "2025-03-20T12:55:00Z",
    gz: bool = True,
) -> bytes:
    """An EPSS scores file, gzipped by default as published."""
    out = io.StringIO()
    if model_version is not None:
        out.write(f"#model_version:{model_version},score_date:{score_date}\n")
    out.write("cve,epss,percentile\n")
    for cve, s, p in rows:
        out.write(f"{cve},{s:.5f},{p:.5f}\n")
    data = out.getvalue().encode()
    return gzip.compress(data, mtime=0) if gz else data


def generated_epss(count: int, seed: int = 3) -> list[tuple[str, float, float]]:
    """Real-sized rows (the daily file has ~300,000)."""
    rnd = random.Random(seed)
    return [(f"CVE-{1999 + i % 27}-{i + 1000}", rnd.random(), rnd.random()) for i in range(count)]
