"""The export format registry: a name -> a renderer, and the error for an unknown name.

Renderers are imported on first use: the CycloneDX library costs a noticeable start-up time
that `dockwatch scan --format json` should not pay. The API answers 400 with `UnknownFormat`'s
message, which lists the valid names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dockwatch.errors import InvalidInput
from dockwatch.reports.common import ExportContext
from dockwatch.value_class import frozen

Renderer = Callable[[Sequence[Mapping[str, Any]], ExportContext], str]


@frozen
class ExportFormat:
    """One export format."""

    name: str
    module: str
    """The module under `dockwatch.reports.findings` whose `render` writes it."""
    media_type: str
    extension: str

    def renderer(self) -> Renderer:
        """The format's `render(findings, ctx) -> str`."""
        module = importlib.import_module(f"dockwatch.reports.findings.{self.module}")
        render: Renderer = module.render
        return render


#: Every format, in the order help texts list them.
FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("table", "table", "text/plain; charset=utf-8", "txt"),
        ExportFormat("json", "json_format", "application/json", "json"),
        ExportFormat("csv", "csv_format", "text/csv; charset=utf-8; header=present", "csv"),
        ExportFormat("sarif", "sarif", "application/sarif+json", "sarif"),
        ExportFormat(
            "cyclonedx-json", "cyclonedx", "application/vnd.cyclonedx+json; version=1.6", "cdx.json"
        ),
        ExportFormat("asff", "asff", "application/json", "asff.json"),
    )
}


class UnknownFormat(InvalidInput):
    """An export format name that is not in `FORMATS`."""

    def __init__(self, name: str, valid: Sequence[str] = tuple(FORMATS)) -> None:
        super().__init__(f"unknown export format {name!r}; valid formats: {', '.join(valid)}")
        self.name = name
        self.valid = tuple(valid)


def lookup(name: str) -> ExportFormat:
    """The format called `name`; raises `UnknownFormat`."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(name) from None


def render(name: str, findings: Sequence[Mapping[str, Any]], ctx: ExportContext) -> str:
    """`findings` exported as `name`."""
    return lookup(name).renderer()(findings, ctx)
