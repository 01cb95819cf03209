"""Contracts of the webhook operations: subscriptions, their delivery log and a test ping."""

from __future__ import annotations

from dockwatch.events.subscriptions import MAX_DELIVERIES_PAGE
from dockwatch.storage.webhook_repo import STATUSES

from ..openapi import Contract, Param
from .common import BOOLEAN, INTEGER, NEXT_TOKEN, OPTIONAL_STRING, STRING, TIME, array, enum, obj

WEBHOOK = obj(
    {
        "webhookId": STRING,
        "url": STRING,
        "eventTypes": {"type": ["array", "null"], "items": STRING},
        "description": STRING,
        "enabled": BOOLEAN,
        "insecureSkipVerify": BOOLEAN,
        "createdAt": TIME,
    }
)
ID = Param("id", {"type": "string", "minLength": 1}, "The webhook id", where="path")
DELIVERY = obj(
    {
        "deliveryId": {"type": ["integer", "string"]},
        "eventId": OPTIONAL_STRING,
        "eventType": STRING,
        "attempt": INTEGER,
        "status": enum(STATUSES),
        "httpStatus": {"type": ["integer", "null"]},
        "error": OPTIONAL_STRING,
        "durationMs": {"type": ["integer", "number", "null"]},
        "scheduledAt": TIME,
        "attemptedAt": OPTIONAL_STRING,
        "createdAt": TIME,
    }
)

CONTRACTS: dict[tuple[str, str], Contract] = {
    ("GET", "/api/v1/webhooks"): Contract(obj({"webhooks": array(WEBHOOK)})),
    ("POST", "/api/v1/webhooks"): Contract(
        {
            **WEBHOOK,
            "required": [*WEBHOOK["required"], "secret"],
            "properties": {**WEBHOOK["properties"], "secret": STRING},
        },
        errors=(409,),  # the registry already has MAX_WEBHOOKS subscriptions
    ),  # fmt: skip
    ("GET", "/api/v1/webhooks/{id}"): Contract(WEBHOOK, path_params=(ID,)),
    ("DELETE", "/api/v1/webhooks/{id}"): Contract(obj({"webhookId": STRING}), path_params=(ID,)),
    ("GET", "/api/v1/webhooks/{id}/deliveries"): Contract(
        obj({"deliveries": array(DELIVERY)}, {"nextToken": STRING}),
        params=(
            Param("status", enum(STATUSES), "Only attempts in this state"),
            Param(
                "maxResults",
                {"type": "integer", "minimum": 1, "maximum": MAX_DELIVERIES_PAGE},
                f"Page size (1-{MAX_DELIVERIES_PAGE})",
            ),
            NEXT_TOKEN,
        ),
        path_params=(ID,),
    ),
    ("POST", "/api/v1/webhooks/{id}/test"): Contract(
        obj({"webhookId": STRING, "eventId": STRING}), path_params=(ID,)
    ),
}
