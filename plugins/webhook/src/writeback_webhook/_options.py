"""The ``options`` of a webhook connector row."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator
from writeback.plugin import TransportOptions

from ._signing import decode_secret

__all__ = ["WebhookOptions"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WebhookOptions(TransportOptions):
    """How a webhook connector signs and shapes what it sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signing_secret: SecretStr | None = Field(
        default=None,
        description="Standard Webhooks secret 'whsec_<base64>' (or 'env:NAME'); when set, "
        "every request carries webhook-signature",
    )
    payload: Literal["envelope", "appointment"] = Field(
        default="envelope",
        description="'envelope': {type, timestamp, data}; 'appointment': the bare appointment "
        "with an x-writeback-action header",
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=300,
        allow_inf_nan=False,
        description="seconds to wait for the endpoint (at most 300)",
    )

    @field_validator("signing_secret")
    @classmethod
    def _secret_form(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        text = value.get_secret_value()
        if text.startswith("env:"):
            if not _ENV_NAME.match(text[len("env:") :]):
                raise ValueError(
                    "an env: secret must name an environment variable, like env:WB_WEBHOOK_SECRET."
                )
            return value
        if not text.startswith("whsec_"):
            raise ValueError(
                "the signing secret must start with 'whsec_' followed by base64, or be 'env:NAME'."
            )
        decode_secret(text)
        return value
