"""The working ``webhook`` type: one signed JSON event per appointment change.

What a receiver gets is described in docs/connectors.md, "What a webhook receiver gets".
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from writeback.plugin import (
    AttemptError,
    AttemptResult,
    ConnectorTypeBase,
    Delivery,
    OutboundMessage,
)

from ._options import WebhookOptions
from ._signing import sign

__all__ = ["EVENT_TYPES", "WebhookConnector"]

#: The envelope's ``type`` per action.
EVENT_TYPES = {
    "create": "appointment.created",
    "update": "appointment.updated",
    "delete": "appointment.deleted",
}


def _iso_z(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class WebhookConnector(ConnectorTypeBase[WebhookOptions]):
    """Builds the Standard Webhooks request for one delivery.

    The body is encoded here, once, and handed to the format as ``content``: the
    signature covers exactly the bytes that go out.
    """

    def build_message(self, delivery: Delivery) -> OutboundMessage:
        """``POST {uri}`` with the event, ``webhook-id`` = the delivery id on every attempt."""
        options = self.options
        event_type = EVENT_TYPES.get(delivery.action)
        if event_type is None:
            raise AttemptError(
                f"a webhook cannot send action {delivery.action!r}; "
                f"known actions: {', '.join(EVENT_TYPES)}."
            )
        document: dict[str, Any]
        if options.payload == "appointment":
            document = dict(delivery.appointment)
        else:
            document = {
                "type": event_type,
                "timestamp": _iso_z(delivery.occurred_at or datetime.now(UTC)),
                "data": dict(delivery.appointment),
            }
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": timestamp,
        }
        if options.payload == "appointment":
            headers["x-writeback-action"] = delivery.action
        secret = self.context.reveal(options.signing_secret)
        if secret is not None:
            try:
                headers["webhook-signature"] = sign(secret, delivery.id, timestamp, body)
            except ValueError:
                # Only an env: secret gets here: a literal one was checked at validation.
                assert options.signing_secret is not None
                variable = options.signing_secret.get_secret_value().removeprefix("env:")
                raise AttemptError(
                    f"options.signing_secret: the environment variable {variable} does not hold "
                    "'whsec_' followed by base64; fix its value."
                ) from None
        return OutboundMessage(
            url=self.context.connector.uri,
            method="POST",
            headers=headers,
            payload=document,
            content=body,
        )

    def review(self, result: AttemptResult) -> AttemptResult:
        """``410 Gone``: the receiver is gone for good (a subscription deleted), so
        the connector is paused, not just this delivery failed: sending the rest
        of its queue there would fail the same way.  ``connectors resume`` sends
        them once the endpoint is back."""
        if result.status_code == 410:
            return replace(
                result,
                pause_connector="the endpoint answered 410 Gone: it takes no more deliveries",
            )
        return result
