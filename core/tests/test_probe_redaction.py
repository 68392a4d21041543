"""``connectors test`` redacts a pipeline that cannot be built, as every other error text."""

from __future__ import annotations

from typing import Any

from writeback import Dispatcher
from writeback.plugin import PipelineContext
from writeback.store import Store

from .conftest import FakeFormat, row

SECRET = "probe-Secret-9f3k"


def test_a_failed_pipeline_build_is_redacted_in_the_probe_report(
    tmp_path: Any, registry: Any, monkeypatch: Any
) -> None:
    def broken(self: FakeFormat, context: PipelineContext) -> None:
        assert context.auth is not None
        revealed = context.auth.for_transport(context.transport)[1]  # reveals the password
        raise ValueError(f"cannot use the key {revealed}")

    monkeypatch.setattr(FakeFormat, "__init__", broken)
    with Dispatcher(Store.open(f"sqlite:///{tmp_path}/wb.db"), registry) as wb:
        wb.connectors.add(row(auth={"method": "key", "password": SECRET}))
        report = wb.connectors.test("f1")
    assert not report.ok
    assert report.detail.startswith("WB-398: ") and "'f1'" in report.detail
    assert "cannot use the key ***" in report.detail
    assert SECRET not in report.detail
