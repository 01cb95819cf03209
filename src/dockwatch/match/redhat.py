"""How an installed rpm is looked up in Red Hat's advisories (`Red Hat:<major>`).

Red Hat's VEX files list a fixed build both as its source rpm and as each binary rpm with the
binary's own version (a subpackage may carry another version than its source: `rubygem-rake
13.0.1-139.module+el8…` comes from `ruby 2.7.8-139.module+el8…`), and unfixed components by
source rpm only. So a package is looked up by its binary name first and by its source rpm
(`SOURCERPM` of the rpm database) second; an advisory found under the binary name answers for
the package, and the source route only adds advisories the binary name does not carry.

A module package (rpm's `MODULARITYLABEL`, `nodejs:18:8090020231019152822:a75119d5`) is looked up
as `<module>:<stream>/<name>`, the way the feed names module builds, so one module stream's fix
never clears another stream's package.
"""

from __future__ import annotations

from dockwatch.model.package import Package

Route = tuple[tuple[str, str], str, str]
"""((ecosystem, name), searched_by, version)."""

PREFIX = "Red Hat:"


def is_redhat(ecosystem: str | None) -> bool:
    """Whether `ecosystem` is a RHEL release's (`Red Hat:9`)."""
    return ecosystem is not None and ecosystem.startswith(PREFIX)


def module_prefix(pkg: Package) -> str:
    """`nodejs:18/` for a module package, "" otherwise."""
    label = dict(pkg.metadata).get("modularitylabel", "")
    parts = label.split(":")
    return f"{parts[0]}:{parts[1]}/" if len(parts) >= 2 and parts[0] and parts[1] else ""


def routes(pkg: Package, ecosystem: str) -> list[Route]:
    """The binary route, then the source route when it names something else."""
    prefix = module_prefix(pkg)
    out: list[Route] = [((ecosystem, prefix + pkg.name), "binary package", pkg.version)]
    if pkg.source_name:
        if pkg.source_version is None:
            version = pkg.version  # same version-release: the binary's epoch is the source's
        elif pkg.epoch:
            version = f"{pkg.epoch}:{pkg.source_version}"
        else:
            version = pkg.source_version
        key = (ecosystem, prefix + pkg.source_name)
        if key != out[0][0]:
            out.append((key, "source package", version))
    return out
