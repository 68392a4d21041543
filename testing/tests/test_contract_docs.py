"""docs/contract-suites.md names every attribute and every check of the contract suites."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from writeback_testing.contract import (
    ApiFormatContract,
    AuthMethodContract,
    ConnectorTypeContract,
    ContractBase,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "contract-suites.md"
SUITES = [ContractBase, ConnectorTypeContract, ApiFormatContract, AuthMethodContract]


def _public_attributes(suite: type) -> set[str]:
    return {
        name
        for name, value in vars(suite).items()
        if not name.startswith("_") and not callable(value) and not isinstance(value, property)
    }


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.__name__)
def test_every_attribute_and_check_is_documented(suite: type) -> None:
    text = DOC.read_text(encoding="utf-8")
    checks = {n[len("test_") :] for n, _ in inspect.getmembers(suite) if n.startswith("test_")}
    names = _public_attributes(suite) | checks
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert missing == [], f"{suite.__name__}: not in docs/contract-suites.md: {missing}"
    docstring = suite.__doc__ or ""
    undescribed = sorted(n for n in _public_attributes(suite) if f"``{n}``" not in docstring)
    assert undescribed == [], f"{suite.__name__}: attributes not in its docstring: {undescribed}"
