"""The ``options`` of ``bc`` and ``nav`` connector rows."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator
from writeback.plugin import TransportOptions

from .staging import ROW_FIELDS

__all__ = ["BcOptions", "StagingOptions"]

#: Longest wire name accepted in ``options.fields`` (BC field names are at most 30; AL
#: API property names a little longer; this only stops nonsense).
_NAME_LIMIT = 100


class StagingOptions(TransportOptions):
    """Options every staging-row connector takes (``nav`` uses exactly these)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, str] = Field(
        default_factory=dict,
        description="renames row fields: camelCase row field name -> the name used verbatim on "
        "the wire (the JSON key for json, the page field for soap), e.g. "
        "{'subject': 'description'}",
    )
    timeout: float = Field(
        default=30.0,
        gt=0,
        le=600,
        allow_inf_nan=False,
        description="seconds to wait for the back office per request phase (at most 600: BC "
        "ends a request after 10 minutes)",
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for field, target in value.items():
            if field not in ROW_FIELDS:
                raise ValueError(
                    f"{field!r} is not a row field; rename one of: {', '.join(ROW_FIELDS)}."
                )
            if not target.strip() or len(target) > _NAME_LIMIT or target != target.strip():
                raise ValueError(
                    f"{field!r} is renamed to {target!r}; give a name of 1 to {_NAME_LIMIT} "
                    "characters without surrounding spaces."
                )
        return value


class BcOptions(StagingOptions):
    """Options of a ``bc`` row: the staging options plus the deployment."""

    deployment: Literal["onprem", "cloud"] | None = Field(
        default=None,
        description="'onprem' or 'cloud' (Business Central online); unset: cloud when the "
        "URI's host is under dynamics.com, else onprem",
    )
    batch_size: int = Field(
        default=20,
        ge=1,
        le=100,
        strict=True,
        description="over json, how many due staging rows go in one OData $batch request "
        "(1 to 100, Business Central's most per batch; 1 sends one request per row)",
    )
