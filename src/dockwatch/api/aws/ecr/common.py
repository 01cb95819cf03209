"""What the ECR handlers share: the registry id and repository checks, ECR's error messages,
image id resolution, the repository document and `nextToken` pages.

Handlers run their service calls in the thread pool (`run`), as `/api/v1` does; the store is
read through the same unit-of-work protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from anyio import to_thread

from dockwatch.api.aws.context import AwsContext
from dockwatch.api.aws.errors import AwsError
from dockwatch.errors import InvalidInput
from dockwatch.model import page_token
from dockwatch.model.identity import repository_arn
from dockwatch.registry.names import NameInvalid, check_name
from dockwatch.storage.registry_repo import RepositoryRow
from dockwatch.storage.unit_of_work import UnitOfWork
from dockwatch.value_class import frozen

T = TypeVar("T")

DEFAULT_PAGE = 100
"""ECR's page size when `maxResults` is absent (DescribeRepositories, ListImages, ...)."""
MAX_PAGE = 1000


async def run(fn: Callable[[], T]) -> T:
    """Run a blocking service call in the thread pool."""
    return await to_thread.run_sync(fn)


def invalid(message: str) -> AwsError:
    """ECR's InvalidParameterException."""
    return AwsError("InvalidParameterException", message)


def check_registry(ctx: AwsContext, body: dict[str, Any]) -> str:
    """The registry acted on: the caller's own. Another account's registry id answers as a
    registry holding none of the named repositories would (RepositoryNotFoundException)."""
    wanted = body.get("registryId")
    if wanted is not None and wanted != ctx.tenant.account_id:
        name = body.get("repositoryName") or (body.get("repositoryNames") or [""])[0]
        raise AwsError(
            "RepositoryNotFoundException",
            f"The repository with name '{name}' does not exist in the registry with id '{wanted}'",
        )
    return ctx.tenant.account_id


def repository_name(body: dict[str, Any], key: str = "repositoryName") -> str:
    """The request's repository name, checked against ECR's grammar."""
    name = body.get(key)
    if not isinstance(name, str):
        raise invalid(f"{key} is required")
    return check_repository_name(name)


def check_repository_name(name: str) -> str:
    """`name` if ECR accepts it (2 to 256 characters of its grammar)."""
    if len(name) < 2 or len(name) > 256:
        raise invalid(f"Invalid parameter at 'repositoryName' failed to satisfy constraint: "
                      f"'Member must have length between 2 and 256': {name!r}")  # fmt: skip
    try:
        return check_name(name)
    except NameInvalid as exc:
        raise invalid(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy "
            "regular expression '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*''"
        ) from exc


def repository_not_found(ctx: AwsContext, name: str) -> AwsError:
    """ECR's RepositoryNotFoundException for `name`."""
    return AwsError(
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id "
        f"'{ctx.tenant.account_id}'",
    )


def repository_row(uow: UnitOfWork, ctx: AwsContext, name: str) -> RepositoryRow:
    """The repository called `name`, or RepositoryNotFoundException."""
    row = uow.registry.get_repository(ctx.tenant, name)
    if row is None:
        raise repository_not_found(ctx, name)
    return row


def repository_uri(ctx: AwsContext, name: str) -> str:
    """ECR's repository URI form `<account>.dkr.ecr.<region>.amazonaws.com/<name>` (scripts
    cut the account and region out of it; see docs/aws-ecr.md)."""
    return f"{ctx.tenant.account_id}.dkr.ecr.{ctx.tenant.region}.amazonaws.com/{name}"


def repository_doc(ctx: AwsContext, row: RepositoryRow) -> dict[str, Any]:
    """ECR's `Repository` shape."""
    return {
        "repositoryArn": repository_arn(ctx.tenant, row.name),
        "registryId": ctx.tenant.account_id,
        "repositoryName": row.name,
        "repositoryUri": repository_uri(ctx, row.name),
        "createdAt": row.created_at,
        "imageTagMutability": row.image_tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": row.scan_on_push},
        "encryptionConfiguration": {"encryptionType": "AES256"},
    }


@frozen
class Page:
    """One page of a listing and the token of the next one (None on the last page)."""

    start: int
    size: int
    token: str | None


def page_of(total: int, body: dict[str, Any], bound: Any) -> Page:
    """The slice of a listing of `total` items that `nextToken`/`maxResults` ask for. Tokens
    hold an offset bound to the request (its filters), so a token replayed against another
    request is refused."""
    size = body.get("maxResults")
    if size is None:
        size = DEFAULT_PAGE
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_PAGE:
        raise invalid(f"maxResults must be between 1 and {MAX_PAGE}")
    digest = page_token.request_digest(bound)
    start = 0
    if body.get("nextToken") is not None:
        try:
            start = page_token.decode(body["nextToken"], bound_to=digest)
        except InvalidInput as exc:
            raise invalid(str(exc)) from exc
        if not isinstance(start, int) or start < 0:
            raise invalid("nextToken is not a token this listing issued")
    end = start + size
    return Page(start, size, page_token.encode(end, bound_to=digest) if end < total else None)


def image_id_text(image_id: dict[str, Any]) -> str:
    """An image id as ECR's messages print it."""
    parts = [f"{k}:'{image_id[k]}'" for k in ("imageDigest", "imageTag") if image_id.get(k)]
    return "{" + ", ".join(parts) + "}"


@frozen
class Resolved:
    """An `imageId` resolved to a manifest digest, or the failure ECR reports for it."""

    image_id: dict[str, Any]
    digest: str | None
    failure_code: str | None = None
    failure_reason: str | None = None

    def failure(self) -> dict[str, Any]:
        """ECR's `ImageFailure`."""
        return {
            "imageId": self.image_id,
            "failureCode": self.failure_code,
            "failureReason": self.failure_reason,
        }


def resolve_image_id(uow: UnitOfWork, repo_id: int, image_id: dict[str, Any]) -> Resolved:
    """Resolve one `ImageIdentifier` (digest, tag, or both: then they must agree)."""
    digest, tag = image_id.get("imageDigest"), image_id.get("imageTag")
    clean = {k: v for k, v in (("imageDigest", digest), ("imageTag", tag)) if v}
    if not digest and not tag:
        return Resolved(clean, None, "MissingDigestAndTag", "Invalid request parameters: "
                        "both tag and digest cannot be null")  # fmt: skip
    if digest and (":" not in digest or uow.registry.get_manifest(repo_id, digest) is None):
        if ":" not in digest:
            return Resolved(clean, None, "InvalidImageDigest", "Invalid image digest")
        return Resolved(clean, None, "ImageNotFound", "Requested image not found")
    if tag:
        found = uow.registry.tag_digest(repo_id, tag)
        if found is None:
            return Resolved(clean, None, "ImageNotFound", "Requested image not found")
        if digest and found != digest:
            return Resolved(clean, None, "ImageTagDoesNotMatchDigest",
                            "Invalid request parameters: image tag does not match digest")  # fmt: skip
        return Resolved(clean, found)
    return Resolved(clean, digest)


def severity_counts_order(counts: dict[str, int], order: Sequence[str]) -> dict[str, int]:
    """`counts` with its keys in `order` first (then any other key, sorted)."""
    keys = [*order, *sorted(counts)]
    return {k: counts[k] for k in dict.fromkeys(keys) if k in counts}
