"""AWS errors as the services name them.

A handler raises `AwsError("RepositoryNotFoundException", "...")`; the protocol adapter renders
it as awsJson1.1 (`{"__type": code, "message": ...}`) or restJson1 (`x-amzn-ErrorType: code`
and `{"message": ...}`) with `status`. dockwatch's own error families are translated by the
adapters too, so a handler may let a service's `NotFound` or `InvalidInput` through.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class AwsError(Exception):
    """An error answer: the AWS exception name, its message and its HTTP status; `members`
    are further members of the error shape (Inspector's ValidationException `reason` and
    `fields`), rendered into the body next to `message`."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        *,
        members: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.members = dict(members or {})
