"""Calling ECR handlers as the awsJson1.1 dispatcher does, with botocore's model as the oracle:
the request is validated by botocore's own ParamValidator against the input shape, the answer
(serialized as the protocol adapter does: datetimes to epoch seconds) checked against the output
shape, and an error's code checked against the operation's `errors` in the model.

Each flow helper takes the same steps a boto3 client would, so end-to-end tests can lift them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from botocore.validate import ParamValidator

from dockwatch.api.aws.context import AwsContext, Principal
from dockwatch.api.aws.ecr import OPERATIONS
from dockwatch.api.aws.errors import AwsError
from dockwatch.app import Services
from tests.support.botocore_shapes import assert_output, service


def context(services: Services) -> AwsContext:
    """The context of a request signed by the default account's first user."""
    principal = Principal(services.tenant.account_id, "tester", "AKIDTESTTESTTESTTEST")
    return AwsContext(services, services.tenant, principal, "req-1")


def wire(value: Any) -> Any:
    """A handler's answer as the protocol adapter serializes it (timestamps as epoch seconds)."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None, "timestamps must be timezone-aware"
        return value.timestamp()
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


def _validate(operation: str, body: dict[str, Any]) -> None:
    shape = service("ecr").operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), report.generate_report()


async def call(ctx: AwsContext, operation: str, **body: Any) -> dict[str, Any]:
    """Run `operation` with a request botocore accepts; its answer, checked and on the wire."""
    _validate(operation, body)
    answer = wire(await OPERATIONS[operation](ctx, body))
    assert_output("ecr", operation, answer)
    return dict(answer)


async def fails(ctx: AwsContext, operation: str, code: str, **body: Any) -> AwsError:
    """Run `operation` expecting the AWS error `code`, one the model lists for it (or the
    generic ValidationException)."""
    _validate(operation, body)
    model = service("ecr").operation_model(operation)
    listed = {e.name for e in model.error_shapes} | {"ValidationException"}
    assert code in listed, f"{code} is not an error of {operation}: {sorted(listed)}"
    with pytest.raises(AwsError) as caught:
        await OPERATIONS[operation](ctx, body)
    assert caught.value.code == code, caught.value
    return caught.value


def waiter_state(waiter: str, answer: dict[str, Any]) -> str | None:
    """The state botocore's ECR waiter `waiter` reaches on `answer` (None: it keeps polling),
    from the acceptors in botocore's waiter model."""
    import botocore.session
    import jmespath  # type: ignore[import-untyped]

    config = botocore.session.get_session().get_waiter_model("ecr").get_waiter(waiter)
    for acceptor in config.acceptors:
        assert acceptor.matcher == "path", acceptor.matcher
        if jmespath.search(acceptor.argument, answer) == acceptor.expected:
            return str(acceptor.state)
    return None
