"""``writeback_attempt_finished``: a real observer plugin, the real worker and receiver."""

from __future__ import annotations

import dataclasses
import logging
import types

import pytest
from writeback import Dispatcher
from writeback._observers import AttemptFinished
from writeback._registry import PluginRegistry
from writeback.hookspecs import hookimpl
from writeback_testing import Step

from .conftest import appointment_event, webhook_row

#: The connector's password: known to the redactor once the connector sends.
SECRET = "observer-secret-value-0123456789"


def observer_module(name: str, *, raises: bool = False) -> types.ModuleType:
    """A plugin module implementing only the observer hook, as a plugin ships it."""
    module = types.ModuleType(name)
    module.seen = []

    @hookimpl
    def writeback_attempt_finished(record: AttemptFinished) -> None:
        module.seen.append(record)
        if raises:
            raise RuntimeError(f"observer broke while holding {SECRET}")

    module.writeback_attempt_finished = writeback_attempt_finished
    return module


def open_with(db_url: str, *modules: types.ModuleType) -> Dispatcher:
    registry = PluginRegistry.load()
    for module in modules:
        registry.register(module, name=module.__name__, distribution=f"{module.__name__}-dist")
    assert registry.load_errors == []
    return Dispatcher.open(db_url, registry=registry)


def history_of(wb: Dispatcher) -> dict[str, list[tuple]]:
    return {
        row.id: [(h.n, h.outcome, h.status_code, h.code) for h in wb.deliveries.get(row.id)[1]]
        for row in wb.deliveries.list()
    }


def deliver(wb: Dispatcher, url: str) -> list[str]:
    auth = {"method": "basic", "username": "u", "password": SECRET}
    wb.connectors.add(webhook_row("hook", url, retry={"schedule": [0, 0]}, auth=auth))
    ids = wb.submit(appointment_event("create", "A-1"))
    ids += wb.submit(appointment_event("update", "B-2"))
    wb.run_worker(until_idle=True)
    return ids


def test_each_attempt_is_reported_once_with_what_was_recorded(
    writeback_receiver_factory, writeback_db_url
):
    rx = writeback_receiver_factory(plan={"/a": [Step(503), Step(503)]})
    observer = observer_module("observer_one")
    with open_with(writeback_db_url, observer) as wb:
        wb.connectors.add(webhook_row("hook", rx.url + "/a", retry={"schedule": [0, 0]}))
        wb.connectors.add(webhook_row("other", rx.url + "/b", source_app="OTHER"))
        [flaky] = wb.submit(appointment_event("create", "A-1"))
        [fine] = wb.submit(appointment_event("update", "B-2", source_app="OTHER"))
        wb.run_worker(until_idle=True)
        history = {d: wb.deliveries.get(d)[1] for d in (flaky, fine)}

    seen = observer.seen
    assert all(isinstance(r, AttemptFinished) for r in seen)
    expected = [(fine, 1), (flaky, 1), (flaky, 2), (flaky, 3)]
    assert sorted((r.delivery_id, r.n) for r in seen) == sorted(expected)
    by_attempt = {(r.delivery_id, r.n): r for r in seen}
    for delivery_id, attempts in history.items():
        for h in attempts:
            r = by_attempt[delivery_id, h.n]
            assert (r.outcome, r.status_code, r.code, r.error, r.duration_ms) == (
                h.outcome,
                h.status_code,
                h.code,
                h.error,
                h.duration_ms,
            )
    first = by_attempt[flaky, 1]
    assert (first.connector, first.action, first.appointment) == ("hook", "create", "A-1")
    assert (first.outcome, first.status_code, first.delivery_status) == ("retry", 503, "pending")
    assert first.code and first.code.startswith("WB-") and "503" in first.error
    last = by_attempt[flaky, 3]
    assert (last.outcome, last.code, last.error, last.delivery_status) == (
        "delivered",
        None,
        None,
        "delivered",
    )
    other = by_attempt[fine, 1]
    assert (other.connector, other.action, other.appointment) == ("other", "update", "B-2")
    assert other.delivery_status == "delivered"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.n = 9  # type: ignore[misc]


def test_a_raising_observer_changes_nothing_and_is_logged_once_without_the_secret(
    writeback_receiver_factory, tmp_path, caplog
):
    plain_rx = writeback_receiver_factory(plan=[Step(503)], basic_auth=("u", SECRET))
    with open_with(f"sqlite:///{tmp_path / 'plain.db'}") as wb:
        deliver(wb, plain_rx.url)
        plain = history_of(wb)

    rx = writeback_receiver_factory(plan=[Step(503)], basic_auth=("u", SECRET))
    broken, watcher = observer_module("observer_broken", raises=True), observer_module("watcher")
    observed_db = f"sqlite:///{tmp_path / 'observed.db'}"
    with (
        caplog.at_level(logging.WARNING, logger="writeback.observers"),
        open_with(observed_db, broken, watcher) as wb,
    ):
        deliver(wb, rx.url)
        observed = history_of(wb)

    def shape(history: dict[str, list[tuple]]) -> list[list[tuple]]:
        return sorted(history.values())

    assert shape(observed) == shape(plain)
    assert [len(h) for h in shape(plain)] == [1, 2]
    assert [r.status for r in rx.requests] == [r.status for r in plain_rx.requests]
    # The broken observer saw every attempt, and so did the one after it.
    assert len(broken.seen) == len(watcher.seen) == 3
    logged = [r.getMessage() for r in caplog.records if r.name == "writeback.observers"]
    first = [m for m in logged if "raised RuntimeError" in m]
    assert len(first) == 1 and "observer_broken" in first[0] and "observer_broken-dist" in first[0]
    assert any("raised 2 more time(s)" in m for m in logged)
    assert all(SECRET not in m for m in logged)


def test_an_observer_may_take_no_argument_and_none_installed_builds_nothing(
    writeback_receiver, writeback_db_url, monkeypatch
):
    calls = []
    module = types.ModuleType("observer_bare")

    @hookimpl
    def writeback_attempt_finished() -> None:
        calls.append(1)

    module.writeback_attempt_finished = writeback_attempt_finished
    with open_with(writeback_db_url, module) as wb:
        deliver(wb, writeback_receiver.url)
    assert calls == [1, 1]

    import writeback._observers as observers

    def boom(done):
        raise AssertionError("a record was built with no observer installed")

    monkeypatch.setattr(observers, "_record", boom)
    # writeback-server, when installed, observes attempts for its metrics.
    monkeypatch.setenv("WRITEBACK_DISABLE_PLUGINS", "server")
    with open_with(writeback_db_url.replace(".db", "-2.db")) as wb:
        assert not wb.registry.observers()
        deliver(wb, writeback_receiver.url)
