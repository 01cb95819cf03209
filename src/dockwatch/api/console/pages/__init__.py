"""The console's pages, one module each. A module exports `PAGE` (`page.Page`: its routes and
its navigation entry); `PAGES` lists them, in the navigation's order. To add a page: write
`pages/<name>.py` with `PAGE`, its template under `templates/`, and append it here."""

from __future__ import annotations

from ..page import Page
from . import (
    accounts,
    coverage,
    dashboard,
    database,
    findings,
    images,
    login,
    scanning,
    settings,
    suppression_rules,
    webhooks,
)

PAGES: list[Page] = [
    dashboard.PAGE,
    scanning.PAGE,
    coverage.PAGE,
    settings.PAGE,
    images.PAGE,
    findings.PAGE,
    suppression_rules.PAGE,
    webhooks.PAGE,
    database.PAGE,
    accounts.PAGE,
    login.PAGE,
]
