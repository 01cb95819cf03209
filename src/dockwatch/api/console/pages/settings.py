"""Settings: the re-scan duration (push date, pull date, pull-date mode).

Before a change is saved the scanner says which monitored images it would expire at once
(`scan.expiry_preview.preview_expiry`); when any would, the page shows them ("N images will
expire now") and saves only after the user confirms. Saving goes through
`ScanService.put_ecr_configuration`, as `PUT /api/v1/configuration` does.
"""

from __future__ import annotations

from typing import Any

from anyio import to_thread
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dockwatch.scan.config import ScanConfigInvalid
from dockwatch.scan.duration import PULL_DATE_DURATIONS, RESCAN_DURATIONS, PullDateMode
from dockwatch.scan.expiry_preview import preview_expiry

from ..context import Console
from ..forms import Form, read_form
from ..page import NavItem, Page

NO_PULL_DATE = "NONE"


def form_to_body(form: Form) -> dict[str, Any]:
    """The `ecrConfiguration` update the form asks for (validated by the scanner)."""
    body: dict[str, Any] = {"rescanDuration": form.one("rescan_duration")}
    pull = form.one("pull_date_rescan_duration", NO_PULL_DATE)
    body["pullDateRescanDuration"] = None if pull == NO_PULL_DATE else pull
    body["pullDateRescanMode"] = form.one("pull_date_rescan_mode", "LAST_PULL_DATE")
    return body


def routes(console: Console) -> list[BaseRoute]:
    """GET /console/settings, POST it (review, then save once confirmed)."""
    scanner = console.services.scanner

    def render(
        request: Request, values: dict[str, Any], status: int = 200, **extra: Any
    ) -> Response:
        context = {
            "values": values,
            "rescan_durations": RESCAN_DURATIONS,
            "pull_durations": PULL_DATE_DURATIONS,
            "pull_modes": [m.value for m in PullDateMode],
            "no_pull": NO_PULL_DATE,
            "saved": request.query_params.get("saved") == "1",
            "error": "",
            "expiring": None,
            **extra,
        }
        return console.renderer.page(request, "settings.html", context, status)

    async def show(request: Request) -> Response:
        _, ecr = await to_thread.run_sync(scanner.settings)
        return render(request, ecr.to_wire())

    # the confirmation repeats the number of images it showed: if the choice or the images
    # changed since, the page shows the new consequence again instead of saving

    async def submit(request: Request) -> Response:
        form = await read_form(request)
        body = form_to_body(form)
        try:
            preview = await to_thread.run_sync(preview_expiry, scanner, body)
        except ScanConfigInvalid as exc:
            return render(request, body, 400, error=str(exc))
        if preview.images and form.one("confirm") != str(len(preview.images)):
            return render(request, preview.proposed.to_wire(), expiring=preview.images)
        await to_thread.run_sync(scanner.put_ecr_configuration, body)
        return RedirectResponse("/console/settings?saved=1", 303)

    return [
        Route("/console/settings", show, methods=["GET"]),
        Route("/console/settings", submit, methods=["POST"]),
    ]


PAGE = Page("settings", routes, NavItem("Settings", "/console/settings"))
