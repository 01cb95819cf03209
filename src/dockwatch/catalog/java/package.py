"""Build a Java `Package`: name `groupId:artifactId`, purl `pkg:maven/group/artifact@version`."""

from __future__ import annotations

from packageurl import PackageURL

from dockwatch.model.package import Package

FOUND_BY = "java-archive"


def new_package(
    group: str | None,
    artifact: str,
    version: str,
    location: str,
    metadata: tuple[tuple[str, str], ...],
    licenses: tuple[str, ...] = (),
    found_by: str = FOUND_BY,
    package_manager: str = "JAR",
) -> Package:
    """A Maven-style package. Without evidence of a group the name is the artifact alone and the
    purl has no namespace: matching must not pretend to know a groupId nobody wrote down."""
    name = f"{group}:{artifact}" if group else artifact
    return Package(
        name=name,
        version=version,
        type="java",
        purl=PackageURL(
            type="maven", namespace=group or None, name=artifact, version=version
        ).to_string(),
        locations=(location,),
        found_by=found_by,
        licenses=licenses,
        metadata=tuple(sorted(metadata)),
        package_manager=package_manager,
    )
