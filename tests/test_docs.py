"""Documentation completeness: every hook, descriptor field and error code is documented."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import writeback
from writeback import hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = [
    writeback.ConnectorTypeSpec,
    writeback.ApiFormatSpec,
    writeback.AuthMethodSpec,
    writeback.AuthRule,
    writeback.ThrottleDefaults,
    writeback.OutboundMessage,
    writeback.AttemptResult,
    writeback.Delivery,
    writeback.PipelineContext,
    writeback.ProbeReport,
]


def _text(name: str) -> str:
    return (ROOT / "docs" / name).read_text(encoding="utf-8")


def test_every_hook_is_documented():
    hooks = [n for n in vars(hookspecs) if n.startswith("writeback_")]
    text = _text("hooks.md")
    assert hooks and all(f"`{h}" in text for h in hooks), hooks


@pytest.mark.parametrize("cls", DOCUMENTED, ids=lambda c: c.__name__)
def test_every_descriptor_field_is_documented(cls):
    text = _text("hooks.md")
    assert f"`{cls.__name__}`" in text
    missing = [f.name for f in dataclasses.fields(cls) if f"`{f.name}`" not in text]
    assert missing == [], f"{cls.__name__} fields not in docs/hooks.md: {missing}"


def test_every_error_code_is_documented():
    used = set()
    for folder in ("core/src", "plugins", "testing/src"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(re.findall(r"WB-\d{3}", path.read_text(encoding="utf-8")))
    text = _text("errors.md")
    assert used and sorted(c for c in used if c not in text) == []


def test_readme_commands_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make test" in ci
