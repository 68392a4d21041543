"""Every attempt that did not succeed carries a stable ``WB-…`` code as data."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from writeback import Dispatcher
from writeback._attempt import CODE_INTERRUPTED, attempt
from writeback._connector_states import CONNECTOR_REMOVED
from writeback._errors import AttemptError, EnvSecretMissingError, InvalidConnectorError
from writeback._outcome import (
    classify_status,
    connection_failure,
    deadline_passed,
    with_code,
)
from writeback._pipeline import Pipeline, attempt_error_result
from writeback._token_errors import (
    token_connection_error,
    token_http_error,
    token_redirected,
    token_timeout,
)
from writeback._validation import validate_connector
from writeback.plugin import AttemptResult, Delivery, Outcome
from writeback.store import AttemptRecord, Finished, Store
from writeback.store._salvage import UNRECORDABLE, _unrecordable

from .conftest import event, row

URL = "https://example.test/hook"


@pytest.mark.parametrize(
    ("status", "outcome", "code"),
    [
        (200, Outcome.DELIVERED, None),
        (204, Outcome.DELIVERED, None),
        (301, Outcome.FAILED, "WB-362"),
        (307, Outcome.FAILED, "WB-362"),
        (308, Outcome.FAILED, "WB-362"),
        (304, Outcome.FAILED, "WB-360"),
        (400, Outcome.FAILED, "WB-360"),
        (401, Outcome.FAILED, "WB-360"),
        (404, Outcome.FAILED, "WB-360"),
        (408, Outcome.RETRY, "WB-361"),
        (429, Outcome.RETRY, "WB-361"),
        (500, Outcome.RETRY, "WB-361"),
        (503, Outcome.RETRY, "WB-361"),
    ],
)
def test_each_status_classification_has_its_code(status, outcome, code):
    result = classify_status(status, {"location": "/elsewhere"}, "body", url=URL)
    assert (result.outcome, result.code) == (outcome, code)
    # The text stays readable and does not carry the code: the field does.
    assert result.error is None or result.error.startswith(f"HTTP {status}")


def test_connection_failures_and_timeouts_have_their_codes():
    assert connection_failure("[Errno 111] Connection refused (h:443)").code == "WB-363"
    assert connection_failure("no answer within 3 s (h:443)", timeout=True).code == "WB-364"
    late = deadline_passed(30, URL)
    assert (late.outcome, late.code) == (Outcome.RETRY, "WB-364")
    assert late.error is not None and late.error.startswith("timed out: ")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (token_http_error(401, url=URL), "WB-312"),
        (token_http_error(503, url=URL), "WB-313"),
        (token_redirected(URL, 307, "https://other.test/"), "WB-312"),
        (token_timeout(URL, 30), "WB-314"),
        (token_connection_error(URL, "[Errno 111] Connection refused"), "WB-315"),
        (EnvSecretMissingError("the environment variable X is not set"), "WB-202"),
        (AttemptError("a plugin's own reason"), "WB-300"),
        (AttemptError("a plugin's own reason", code="WB-512"), "WB-512"),
    ],
)
def test_an_attempt_error_becomes_a_result_with_its_code(error, code):
    result = attempt_error_result(error)
    assert result.code == error.code == code
    assert result.outcome is (Outcome.RETRY if error.retryable else Outcome.FAILED)


def test_what_a_result_records():
    assert with_code(AttemptResult(Outcome.DELIVERED, 200, code="WB-361")).code is None
    assert with_code(AttemptResult(Outcome.RETRY, 503, "HTTP 503")).code == "WB-300"
    assert with_code(AttemptResult(Outcome.FAILED, error="x", code="WB-600")).code == "WB-600"


def test_connector_states_give_codes():
    assert CONNECTOR_REMOVED.code == "WB-106"
    assert InvalidConnectorError(["bad"]).code == "WB-101"


def _send(connector: Any, *, send: Any = None) -> AttemptResult:
    delivery = Delivery(id="d1", event_id="e1", action="create", appointment={}, occurred_at=None)

    async def run() -> AttemptResult:
        pipeline = Pipeline.build(connector)
        if send is not None:
            pipeline.api_format.send = send  # type: ignore[method-assign]
        return await pipeline.send(delivery)

    return asyncio.run(run())


def test_the_pipeline_codes_plugin_bugs_and_results_without_a_code(registry, script):
    connector = validate_connector(row(), registry)

    async def broken(message: Any, auth: Any) -> AttemptResult:
        raise KeyError("subject")

    bug = _send(connector, send=broken)
    assert (bug.outcome, bug.code) == (Outcome.FAILED, "WB-399")

    async def refuses(message: Any, auth: Any) -> AttemptResult:
        raise AttemptError("no such job", code="WB-520", retryable=True)

    own = _send(connector, send=refuses)
    assert (own.outcome, own.code) == (Outcome.RETRY, "WB-520")

    script.answers = [AttemptResult(Outcome.FAILED, 400, "HTTP 400")]
    assert _send(connector).code == "WB-300"
    assert _send(connector).code is None


def test_salvage_records_wb_351(registry, tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/s.db")
    dispatcher = Dispatcher(store, registry)
    try:
        dispatcher.connectors.add(row())
        dispatcher.submit(event())
        (claim,) = store.outbox.claim("w", 1, lease_seconds=60)
        attempt_record = AttemptRecord(1, time.time(), 2.0, 503, "retry", "HTTP 503", "WB-361")
        given_up = _unrecordable(Finished(claim, attempt_record, "pending"), "refused")
        assert given_up.attempt.code == UNRECORDABLE == "WB-351"
    finally:
        dispatcher.close()


def test_an_interrupted_attempt_is_wb_350_and_a_removed_connector_wb_106(registry, tmp_path):
    store = Store.open(f"sqlite:///{tmp_path}/i.db")
    dispatcher = Dispatcher(store, registry)
    try:
        dispatcher.connectors.add(row())
        dispatcher.submit(event())
        (claim,) = store.outbox.claim("w", 1, lease_seconds=60)

        async def cut_short(delivery: Any) -> AttemptResult:
            raise asyncio.CancelledError

        retry = SimpleNamespace(schedule=[1.0])
        connector = SimpleNamespace(row=SimpleNamespace(retry=retry))
        state = SimpleNamespace(pipeline=SimpleNamespace(connector=connector, send=cut_short))
        interrupted = asyncio.run(attempt(claim, state))  # type: ignore[arg-type]
        assert (interrupted.attempt.outcome, interrupted.attempt.code) == ("retry", "WB-350")
        assert CODE_INTERRUPTED == "WB-350"
        removed = asyncio.run(attempt(claim, CONNECTOR_REMOVED))
        assert (removed.status, removed.attempt.code) == ("dead", "WB-106")
    finally:
        dispatcher.close()


def test_the_worker_records_each_attempts_code(writeback_any_db_url, registry, script):
    dispatcher = Dispatcher(Store.open(writeback_any_db_url), registry)
    try:
        dispatcher.connectors.add(row(retry={"schedule": [0]}))
        [delivery_id] = dispatcher.submit(event())
        script.answers = [
            classify_status(503, {}, "busy", url=URL),
            classify_status(404, {}, "gone", url=URL),
        ]
        dispatcher.run_worker(until_idle=True)
        _, history = dispatcher.deliveries.get(delivery_id)
        assert [(h.outcome, h.code) for h in history] == [("retry", "WB-361"), ("failed", "WB-360")]
        dispatcher.deliveries.retry([delivery_id])
        dispatcher.run_worker(until_idle=True)
        _, history = dispatcher.deliveries.get(delivery_id)
        assert [h.code for h in history] == ["WB-361", "WB-360", None]
    finally:
        dispatcher.close()
