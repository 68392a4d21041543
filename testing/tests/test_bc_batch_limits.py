"""The BC simulator's ``$batch`` (OData JSON batch format) and its per-user limits,
over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcApiServer, BcLimits

ROW = {"databaseAction": "I", "sourceApp": "CRONUSUS", "appointmentGuid": "G1"}
AUTH = ("WEBUSER", "key")


def requests_for(api: BcApiServer, *bodies: dict) -> dict:
    url = api.endpoint.removeprefix(api.batch_url.removesuffix("$batch"))
    return {
        "requests": [
            {"id": str(k), "method": "POST", "url": url, "headers": {}, "body": body}
            for k, body in enumerate(bodies, start=1)
        ]
    }


def test_each_request_of_a_batch_is_answered_inside_one_200() -> None:
    with BcApiServer() as api:
        body = requests_for(api, ROW, {**ROW, "nope": 1})
        answer = httpx.post(api.batch_url, json=body)
        assert answer.status_code == 200
        first, second = answer.json()["responses"]
        assert (first["id"], first["status"]) == ("1", 201)
        assert first["headers"]["location"].startswith(api.endpoint)
        assert (second["id"], second["status"]) == ("2", 400)
        assert second["body"]["error"]["code"] == "BadRequest_PropertyNotFound"
        assert len(api.rows) == 1
        assert [r.batch_id for r in api.requests] == [None, "1", "2"]


@pytest.mark.parametrize(
    "body",
    [{"value": []}, {"requests": []}, {"requests": [{"id": "1", "method": "POST"}]}, [1]],
)
def test_a_malformed_batch_is_400(body) -> None:
    with BcApiServer() as api:
        answer = httpx.post(api.batch_url, json=body)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadRequest"


def test_more_than_100_operations_is_400() -> None:
    with BcApiServer() as api:
        answer = httpx.post(api.batch_url, json=requests_for(api, *([ROW] * 101)))
        assert answer.status_code == 400 and "100 operations" in answer.text
        assert api.rows == []


@pytest.mark.parametrize(("counts_as", "accepted"), [("request", 3), ("operations", 1)])
def test_the_window_budget_counts_a_batch_as_set(counts_as, accepted) -> None:
    limits = BcLimits(window_requests=3, window_seconds=600, batch_counts_as=counts_as)
    with BcApiServer(auth=BasicAcceptor({"WEBUSER": "key"}), limits=limits) as api:
        body = requests_for(api, ROW, ROW, ROW)
        statuses = [httpx.post(api.batch_url, json=body, auth=AUTH).status_code for _ in range(4)]
        assert statuses == [200] * accepted + [429] * (4 - accepted)
        refused = httpx.post(api.batch_url, json=body, auth=AUTH)
        assert 1 <= int(refused.headers["retry-after"]) <= 600
        stats = api.limit_stats("WEBUSER")
        assert stats.max_window_count == 3 and stats.refused_window == 5 - accepted


def test_more_than_the_concurrent_limit_is_429() -> None:
    hold = threading.Event()

    def plan(request):  # the first request stays in progress until the second is answered
        hold.wait(30)

    with BcApiServer(limits=BcLimits(max_concurrency=1), plan=plan) as api:
        first: list[int] = []

        def post() -> None:
            first.append(httpx.post(api.endpoint, json=ROW).status_code)

        slow = threading.Thread(target=post)
        slow.start()
        while api.limit_stats().requests < 1:  # the first is in progress
            time.sleep(0.01)
        second = httpx.post(api.endpoint, json=ROW)
        hold.set()
        slow.join()
        assert second.status_code == 429 and second.headers["retry-after"] == "1"
        assert first == [201]
        stats = api.limit_stats()
        assert (stats.peak_concurrency, stats.refused_concurrency) == (2, 1)
