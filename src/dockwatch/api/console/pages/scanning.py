"""Registry scanning (the seed's Private registry -> Scanning -> Edit): scan type, what is
scanned, a preview of which repositories each choice scans and how, and Save.

The form's choices become ECR's `{scanType, rules}` document (`form_to_configuration`); the
scanner validates it, previews it (`ScanService.preview`) and saves it
(`ScanService.put_scanning_configuration`) exactly as `/api/v1/registry/scanning-configuration`
does. A validation error is shown next to the field it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dockwatch.scan.config import (
    RegistryScanningConfiguration,
    ScanConfigInvalid,
    ScanFrequency,
    ScanType,
    parse_configuration,
)

from ..context import Console
from ..forms import Form, read_form
from ..page import NavItem, Page

CONTINUOUS_ALL = "continuous_all"
ON_PUSH_ALL = "on_push_all"
FILTERS = "filters"
MODES = (CONTINUOUS_ALL, ON_PUSH_ALL, FILTERS)
FILTER_RULE = (
    "use lower-case letters, digits, '.', '_', '-', '/' and '*', beginning and ending with a "
    "letter, a digit or '*'"
)
FILTER_FIELDS = {"continuous_filters": "CONTINUOUS_SCAN", "on_push_filters": "SCAN_ON_PUSH"}


@dataclass(slots=True)
class ScanningForm:
    """The form's values as the page shows them, and the errors by field name."""

    scan_type: str = "BASIC"
    mode: str = FILTERS
    continuous_filters: list[str] = field(default_factory=list)
    on_push_filters: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def configuration_to_form(config: RegistryScanningConfiguration) -> ScanningForm:
    """The saved configuration as the form's choices."""
    f = ScanningForm(scan_type=config.scan_type.value)
    if config.scan_type is ScanType.ENHANCED and not config.rules:
        f.mode = CONTINUOUS_ALL
        return f
    for rule in config.rules:
        names = [x.filter for x in rule.filters]
        if rule.scan_frequency is ScanFrequency.CONTINUOUS_SCAN:
            f.continuous_filters += names
        elif rule.scan_frequency is ScanFrequency.SCAN_ON_PUSH:
            f.on_push_filters += names
    if f.on_push_filters == ["*"] and not f.continuous_filters:
        f.mode, f.on_push_filters = ON_PUSH_ALL, []
    return f


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_scanning_form(form: Form) -> ScanningForm:
    """The submitted choices (not yet validated)."""
    return ScanningForm(
        scan_type=form.one("scan_type", "BASIC"),
        mode=form.one("mode", FILTERS),
        continuous_filters=_lines(form.one("continuous_filters")),
        on_push_filters=_lines(form.one("on_push_filters")),
    )


def form_to_configuration(f: ScanningForm) -> dict[str, Any] | None:
    """ECR's document for the choices, or None with `f.errors` filled in. The scanner's own
    validation (`parse_configuration`) decides; its error is placed next to its field."""
    if f.scan_type not in ("BASIC", "ENHANCED"):
        f.errors["scan_type"] = "Choose basic or enhanced scanning."
    if f.mode not in MODES:
        f.errors["mode"] = "Choose what to scan."
    if f.errors:
        return None
    rules: list[tuple[str, list[str], str]] = []
    if f.mode == CONTINUOUS_ALL:
        if f.scan_type == "BASIC":
            f.errors["mode"] = (
                "Continuous scanning needs enhanced scanning: basic scanning scans on push only."
            )
            return None
    elif f.mode == ON_PUSH_ALL:
        rules.append(("SCAN_ON_PUSH", ["*"], "mode"))
    else:
        for name, frequency in FILTER_FIELDS.items():
            values: list[str] = getattr(f, name)
            if values:
                rules.append((frequency, values, name))
    body = {
        "scanType": f.scan_type,
        "rules": [
            {
                "scanFrequency": frequency,
                "repositoryFilters": [{"filter": v, "filterType": "WILDCARD"} for v in values],
            }
            for frequency, values, _ in rules
        ],
    }
    try:
        parse_configuration(body)
    except ScanConfigInvalid as exc:
        where = "mode"
        if exc.field.startswith("rules["):
            index = int(exc.field[len("rules[") : exc.field.index("]")])
            where = rules[index][2] if index < len(rules) else "mode"
            values = rules[index][1] if index < len(rules) else []
            message = exc.reason
            if ".repositoryFilters[" in exc.field:
                at = exc.field.split(".repositoryFilters[")[1].split("]")[0]
                if at.isdigit() and int(at) < len(values):
                    reason = exc.reason
                    if reason.startswith("must match"):  # the pattern itself helps nobody
                        reason = FILTER_RULE
                    message = f"{values[int(at)]!r}: {reason}"
            f.errors[where] = message
        else:
            f.errors[where] = str(exc)
        return None
    return body


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/scanning (the form), POST it (preview or save)."""
    scanner = console.services.scanner

    async def show(request: Request) -> Response:
        config, _ = await to_thread.run_sync(scanner.settings)
        return _page(console, request, configuration_to_form(config), None, 200)

    async def submit(request: Request) -> Response:
        f = read_scanning_form(await read_form(request))
        body = form_to_configuration(f)
        if body is None:
            return _page(console, request, f, None, 400)
        if (await read_form(request)).one("action") == "save":
            await to_thread.run_sync(scanner.put_scanning_configuration, body)
            return RedirectResponse("/console/scanning?saved=1", 303)
        preview = await to_thread.run_sync(scanner.preview, parse_configuration(body))
        return _page(console, request, f, preview, 200)

    return [
        Route("/console/scanning", show, methods=["GET"]),
        Route("/console/scanning", submit, methods=["POST"]),
    ]


def _page(
    console: Console,
    request: Request,
    f: ScanningForm,
    preview: list[dict[str, Any]] | None,
    status: int,
) -> Response:
    return console.renderer.page(
        request,
        "scanning.html",
        {"form": f, "preview": preview, "saved": request.query_params.get("saved") == "1"},
        status,
    )


PAGE = Page("scanning", routes, NavItem("Registry scanning", "/console/scanning"))
