"""A lifecycle policy evaluated over a repository's images (pure; no store, no clock).

ECR's documented evaluation rules, as applied here:
- rules apply in `rulePriority` order, lowest first; an image is expired by one rule or none;
- an image that meets the tagging requirements of a rule cannot be expired by a lower-priority
  rule (whether or not that rule expired it);
- a rule still counts the images higher rules claimed ("identifies them as if they had not been
  expired"): `imageCountMoreThan N` keeps the N most recently pushed images it selects and
  expires the older ones it may expire; `sinceImagePushed N days` expires the ones it may expire
  pushed more than N days before `now`;
- expiry is ordered by push time, older first (ties broken by digest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dockwatch.value_class import frozen

from .policy import CountType, LifecyclePolicy


@frozen
class LifecycleImage:
    """An image as the evaluator sees it."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime


@frozen
class Expiry:
    """An image a policy expires, and the rule that expires it."""

    image: LifecycleImage
    rule_priority: int


def evaluate(
    policy: LifecyclePolicy, images: Sequence[LifecycleImage], now: datetime
) -> list[Expiry]:
    """The images `policy` expires, oldest push first."""
    claimed: set[str] = set()
    expired: list[Expiry] = []
    for rule in policy.rules:
        selected = [i for i in images if rule.selects(i.tags)]
        if rule.count_type is CountType.IMAGE_COUNT_MORE_THAN:
            newest_first = sorted(selected, key=lambda i: (i.pushed_at, i.digest), reverse=True)
            candidates = newest_first[rule.count_number :]
        else:
            cutoff = now - timedelta(days=rule.count_number)
            candidates = [i for i in selected if i.pushed_at < cutoff]
        expired += [Expiry(i, rule.priority) for i in candidates if i.digest not in claimed]
        claimed.update(i.digest for i in selected)
    expired.sort(key=lambda e: (e.image.pushed_at, e.image.digest))
    return expired
