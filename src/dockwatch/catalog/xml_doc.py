"""Reading the XML manifests images carry (pom.xml, packages.config, *.csproj) safely.

ElementTree never fetches external entities, and the expat it uses caps entity amplification;
a manifest has no business declaring entities at all, so a document that declares any is
refused before parsing. Namespaces are dropped from tag names: POMs and old-style project files
put every element in one default namespace, and the code reads local names only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockwatch.catalog.cataloger import FileFormatError

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET


class XmlManifestError(FileFormatError):
    """An XML manifest that is not well-formed, or declares entities."""


def parse_xml(path: str, data: bytes) -> ET.Element:
    """The root element, with namespace-free tags."""
    import xml.etree.ElementTree as ET  # only when a POM or NuGet manifest is found

    if b"<!ENTITY" in data:
        raise XmlManifestError(path, "declares XML entities; refused")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, RecursionError) as exc:
        raise XmlManifestError(path, f"not well-formed XML: {exc}") from exc
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.rsplit("}", 1)[1]
    return root


def text_of(element: ET.Element | None, child: str) -> str | None:
    """The stripped text of `element`'s first `child`, None when absent or empty."""
    if element is None:
        return None
    found = element.find(child)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None
