"""The chosen details' findings counted per image (and layer) and severity, from the covering
`ix_findings_detail_image` (detail ref, status code, repository id, image key, severity rank).

Counting each finding in a GROUP BY per (image, severity) sorts every finding: at 1,000,000
findings, vendorSeverity HIGH chooses 627 details with 147,000 findings, and the sort was most
of IMAGE_LAYER's 219 ms of CPU on SQLite. But the findings of a detail are the images that hold
its layer, and many details share them: grouped in the index's own order (no sort) per
(detail, status, repository), the findings become that detail's list of (image key, severity)
in the repository (16,000 lists); details with the same list in a repository (and the same
layer) are then counted together (2,000 groups), and only those lists are spread back into
images, each image counted the number of details sharing the list. Same counts, exactly: a
list holds each finding once (CLOSED generations of one image included). At 1,000,000 findings,
IMAGE_LAYER vendorSeverity HIGH: 2,431 -> 1,649 million instructions with the digest seek of
`aggregation_images.py` (callgrind), about 219 -> 150 ms of CPU.

SQLite only: PostgreSQL groups the findings by hashing, which the lists would not improve on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Subquery,
    case,
    cast,
    func,
    literal,
    select,
    true,
)

from dockwatch.storage.sql import tables as t
from dockwatch.storage.sql.schema.findings import STATUS_CODES

from .criteria_sql import on_source


def _status(code: ColumnElement[int], statuses: Sequence[str]) -> ColumnElement[str]:
    """The status of a status code: a constant when one status counts (ACTIVE, by default)."""
    if len(statuses) == 1:
        return literal(statuses[0])
    return case({n: s for s, n in STATUS_CODES.items()}, value=code)


def _layers(chosen: ColumnElement[bool]) -> Subquery:
    """(detail ref, layer hash) of the chosen details: a finding counts once per layer."""
    dp = t.detail_packages
    return (
        select(dp.c.detail_ref, dp.c.source_layer_hash.label("layer_hash"))
        .where(dp.c.source_layer_hash.is_not(None), on_source(chosen, dp))
        .distinct()
        .subquery("layers")
    )


def per_image(
    dialect: str, grain: str, chosen: ColumnElement[bool], statuses: Sequence[str]
) -> Subquery:
    """Findings of the details `chosen` (a condition on `tables.findings` reading only the
    detail ref) with one of `statuses`, counted per (status, repository id, image key[, layer
    hash], severity rank): columns status, repository_id, image_key[, layer_hash],
    severity_rank, n."""
    if dialect == "sqlite":
        return _by_lists(grain, chosen, statuses)
    return _by_finding(grain, chosen, statuses)


def _by_finding(grain: str, chosen: ColumnElement[bool], statuses: Sequence[str]) -> Subquery:
    """Each finding grouped by its image (and each layer of its detail) and severity."""
    f = t.findings
    codes = [STATUS_CODES[s] for s in statuses]
    keys: list[ColumnElement[Any]] = [f.c.repository_id, f.c.image_key]
    counted = [f.c.severity_rank, func.count().label("n")]
    status = _status(f.c.status_code, statuses).label("status")
    if grain == "layer":
        layers = _layers(chosen)
        keys.append(layers.c.layer_hash)
        # the join keeps the chosen details' findings alone
        per = select(status, *keys, *counted)
        per = per.join_from(f, layers, layers.c.detail_ref == f.c.detail_ref)
    else:
        per = select(status, *keys, *counted).where(chosen)
    if len(statuses) > 1:
        keys.insert(0, f.c.status_code)
    return per.where(f.c.status_code.in_(codes)).group_by(*keys, f.c.severity_rank).subquery("per")


def _by_lists(grain: str, chosen: ColumnElement[bool], statuses: Sequence[str]) -> Subquery:
    """The findings as lists of (image key, severity rank) per (detail, status, repository),
    counted per list, then spread back into images (the module's docstring)."""
    f = t.findings
    codes = [STATUS_CODES[s] for s in statuses]
    # each item: the image key, then the severity rank (one digit, 0-5); a JSON array, so
    # that any characters of a key split back exactly
    item = f.c.image_key + cast(f.c.severity_rank, String)
    lists = (
        select(
            f.c.detail_ref,
            f.c.status_code,
            f.c.repository_id,
            func.json_group_array(item).label("images"),
        )
        .where(chosen, f.c.status_code.in_(codes))
        # the index's order: no sort
        .group_by(f.c.detail_ref, f.c.status_code, f.c.repository_id)
        .subquery("lists")
    )
    keys: list[ColumnElement[Any]] = [lists.c.status_code, lists.c.repository_id]
    source: Any = lists
    if grain == "layer":
        layers = _layers(chosen)
        keys.append(layers.c.layer_hash)
        source = lists.join(layers, layers.c.detail_ref == lists.c.detail_ref)
    by_list = (
        select(*keys, lists.c.images, func.count().label("details"))
        .select_from(source)
        .group_by(*keys, lists.c.images)
        .subquery("shared")
    )
    spread = func.json_each(by_list.c.images).table_valued("value").alias("item")
    value = spread.c.value
    group = [by_list.c[k.name] for k in keys]
    return (
        select(
            _status(by_list.c.status_code, statuses).label("status"),
            by_list.c.repository_id,
            func.substr(value, 1, func.length(value) - 1).label("image_key"),
            *([by_list.c.layer_hash] if grain == "layer" else []),
            cast(func.substr(value, -1), Integer).label("severity_rank"),
            func.sum(by_list.c.details).label("n"),
        )
        .select_from(by_list.join(spread, true()))
        .group_by(*group, value)
        .subquery("per")
    )
