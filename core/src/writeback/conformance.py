"""Checks every plugin's descriptors must pass; each plugin's ``test_plugin.py`` runs them.

from writeback.conformance import conformance_problems
assert conformance_problems(spec) == []
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from ._descriptors import TRANSPORTS, ApiFormatSpec, AuthMethodSpec, ConnectorTypeSpec

__all__ = ["conformance_problems"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def _model_problems(owner: str, model: type[BaseModel]) -> list[str]:
    problems = []
    if model.model_config.get("extra") != "forbid":
        problems.append(f"{owner}: {model.__name__} must set extra='forbid'.")
    for field, info in model.model_fields.items():
        if not info.description:
            problems.append(
                f"{owner}: field {field!r} of {model.__name__} has no description "
                "(use Field(description=...); it is printed by 'writeback plugins')."
            )
    return problems


def conformance_problems(spec: Any) -> list[str]:
    """What is wrong with a descriptor; an empty list when it conforms."""
    problems: list[str] = []
    kind = type(spec).__name__
    name = getattr(spec, "name", None)
    owner = f"{kind} {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{owner}: name must be lower-case letters, digits, '-' or '_'.")
    if not getattr(spec, "summary", "").strip():
        problems.append(f"{owner}: summary is empty.")
    if not callable(getattr(spec, "factory", None)):
        problems.append(f"{owner}: factory is not callable.")
    if isinstance(spec, ConnectorTypeSpec):
        problems += _model_problems(owner, spec.options_model)
        if not spec.formats:
            problems.append(f"{owner}: formats is empty.")
        for rule in spec.auth_rules:
            if rule.api_format not in spec.formats:
                problems.append(
                    f"{owner}: auth rule for {rule.api_format!r} names a format not in formats."
                )
            for method in rule.warnings:
                if method not in rule.methods:
                    problems.append(
                        f"{owner}: warning for {method!r}, which the rule does not allow."
                    )
        for fmt in spec.formats:
            if not any(rule.api_format == fmt for rule in spec.auth_rules):
                problems.append(f"{owner}: no auth rule for format {fmt!r}.")
        accepted = {*spec.formats, *(m for rule in spec.auth_rules for m in rule.methods)}
        for provided, dist in spec.provided_by.items():
            if provided not in accepted:
                problems.append(
                    f"{owner}: provided_by names {provided!r}, which is neither a format "
                    "it lists nor an auth method it accepts."
                )
            if not isinstance(dist, str) or not dist.strip():
                problems.append(f"{owner}: provided_by[{provided!r}] is not a distribution name.")
        if len(spec.variants) > 1 and spec.variant_of is None:
            problems.append(f"{owner}: several variants but no variant_of to choose one.")
    elif isinstance(spec, ApiFormatSpec):
        if spec.transport not in TRANSPORTS:
            problems.append(f"{owner}: transport {spec.transport!r} is not one of {TRANSPORTS}.")
        for alias in spec.aliases:
            if not _NAME.match(alias):
                problems.append(f"{owner}: alias {alias!r} is not a valid name.")
    elif isinstance(spec, AuthMethodSpec):
        problems += _model_problems(owner, spec.settings_model)
        if any(t not in TRANSPORTS for t in spec.transports):
            problems.append(
                f"{owner}: transports must be a subset of {TRANSPORTS} (empty for a method "
                "whose credentials are headers)."
            )
    else:
        problems.append(f"{kind} is not a writeback descriptor.")
    return problems
