"""Business Central's OData ``$batch`` end to end: the real CLI and worker against the
BC simulator on 127.0.0.1 (docs/connectors.md, "Batching on Business Central").

Several due staging rows of one connector go in one JSON batch request, at most
one change per appointment; each delivery is settled by its own response and
has its own attempt record.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcRequest, BcStep

from .conftest import appointment_event

KEY = "Web-Service-Access-Key-0123"


def bc_row(uri: str, batch_size: int | None = None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": "bc",
        "type": "bc",
        "api_type": "json",
        "uri": uri,
        "source_app": "CRONUSUS",
        "auth": {"method": "basic", "username": "WEBUSER", "password": KEY},
        "retry": {"schedule": [0.2, 0.2, 0.2]},
        "coalesce": False,
        **extra,
    }
    if batch_size is not None:
        row["options"] = {"batch_size": batch_size}
    return row


def dispatch(cli, events: list[dict[str, Any]]) -> list[str]:
    lines = "\n".join(json.dumps(e) for e in events)
    made = cli("dispatch", cli.file(lines), "--json").json()
    return [m["deliveries"][0]["id"] for m in made]


def history(cli, delivery_id: str) -> dict[str, Any]:
    return cli("deliveries", "show", delivery_id, "--json").json()


def http_requests(api) -> list[BcRequest]:
    """What came over HTTP (not the requests inside a batch)."""
    return [r for r in api.requests if r.batch_id is None]


def batches(api) -> list[BcRequest]:
    return [r for r in http_requests(api) if r.path.endswith("/$batch")]


@pytest.fixture
def api(writeback_bc_api_factory):
    return writeback_bc_api_factory(auth=BasicAcceptor({"WEBUSER": KEY}))


def test_six_rows_go_in_two_batch_requests_each_settled_by_its_own_response(any_cli, api):
    cli = any_cli
    cli("connectors", "add", cli.file(bc_row(api.endpoint, batch_size=3)))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(6)])
    cli("worker", "--until-idle", "--concurrency", "1")
    assert len(api.rows) == 6
    sent = http_requests(api)
    assert [r.path for r in sent] == [api.batch_url.removeprefix(api.url)] * 2
    for request in sent:
        assert request.headers["accept"] == "application/json"
        assert "isolation" not in request.headers
        assert [r["id"] for r in request.json["requests"]] == ["1", "2", "3"]
        assert {r["method"] for r in request.json["requests"]} == {"POST"}
    for delivery_id in ids:
        shown = history(cli, delivery_id)
        assert shown["status"] == "delivered" and shown["attempts"] == 1
        assert shown["history"][0]["status_code"] == 201


def test_failures_inside_the_batch_are_settled_row_by_row(cli, api):
    busy_once: list[str] = []

    def plan(request: BcRequest) -> BcStep | None:
        subject = (request.json or {}).get("subject") if request.batch_id else None
        if subject == "bad":
            return BcStep(400, code="BadRequest_InvalidToken", message="Row refused.")
        if subject == "busy" and not busy_once:
            busy_once.append(request.batch_id or "")
            return BcStep(429, retry_after=0)
        return None

    api.set_plan(plan)
    cli("connectors", "add", cli.file(bc_row(api.endpoint)))
    good, bad, busy = dispatch(
        cli,
        [
            appointment_event("create", "G1"),
            appointment_event("create", "G2", subject="bad"),
            appointment_event("create", "G3", subject="busy"),
        ],
    )
    cli("worker", "--until-idle")
    assert history(cli, good)["attempts"] == 1 and history(cli, good)["status"] == "delivered"
    refused = history(cli, bad)
    assert refused["status"] == "dead" and refused["attempts"] == 1
    assert refused["history"][0]["error"] == "HTTP 400: BadRequest_InvalidToken: Row refused."
    retried = history(cli, busy)
    assert retried["status"] == "delivered"
    assert [h["status_code"] for h in retried["history"]] == [429, 201]
    assert sorted(r.fields["appointmentGuid"] for r in api.rows) == ["G1", "G3"]


def test_one_change_per_appointment_per_batch_in_order(any_cli, api):
    cli = any_cli
    seen: list[list[str]] = []

    def plan(request: BcRequest) -> None:
        if request.batch_id is None and request.path.endswith("/$batch"):
            seen.append([r["body"]["appointmentGuid"] for r in request.json["requests"]])

    api.set_plan(plan)
    cli("connectors", "add", cli.file(bc_row(api.endpoint)))
    events = [
        appointment_event("create", "A"),
        appointment_event("create", "B"),
        appointment_event("update", "A", subject="Moved"),
        appointment_event("create", "C"),
        appointment_event("delete", "A"),
    ]
    dispatch(cli, events)
    cli("worker", "--until-idle")
    assert all(len(guids) == len(set(guids)) for guids in seen), seen
    rows = [r for r in api.rows if r.fields["appointmentGuid"] == "A"]
    assert [r.fields["databaseAction"] for r in rows] == ["I", "U", "D"]
    assert len(api.rows) == 5


def test_a_batch_answered_429_as_a_whole_retries_every_row(cli, api):
    api.set_plan([BcStep(429, retry_after=0)])
    cli("connectors", "add", cli.file(bc_row(api.endpoint)))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(3)])
    cli("worker", "--until-idle", "--concurrency", "1")
    assert len(api.rows) == 3
    for delivery_id in ids:
        shown = history(cli, delivery_id)
        assert shown["status"] == "delivered"
        assert [h["status_code"] for h in shown["history"]] == [429, 201]
        assert shown["history"][0]["error"].startswith("HTTP 429: Application_TooManyRequests")


def test_a_whole_batch_401_fails_every_row_with_the_credentials_advice(cli, api):
    wrong = bc_row(api.endpoint)
    wrong["auth"] = {**wrong["auth"], "password": "Not-The-Key-987"}
    cli("connectors", "add", cli.file(wrong))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(3)])
    cli("worker", "--until-idle", "--concurrency", "1")
    assert [r.status for r in http_requests(api)] == [401]  # basic has nothing to refresh
    for delivery_id in ids:
        shown = history(cli, delivery_id)
        assert shown["status"] == "dead" and shown["history"][0]["code"] == "WB-331"


def test_a_batch_refused_as_malformed_falls_back_to_single_requests_saying_so_once(cli, api):
    def plan(request: BcRequest) -> BcStep | None:
        if request.batch_id is None and request.path.endswith("/$batch"):
            return BcStep(400, code="BadRequest", message="The batch request is malformed.")
        return None

    api.set_plan(plan)
    cli("connectors", "add", cli.file(bc_row(api.endpoint, batch_size=3)))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(6)])
    run = cli("worker", "--until-idle", "--concurrency", "1")
    assert run.stderr.count("refused a batch request") == 1
    assert "The batch request is malformed" in run.stderr
    assert len(batches(api)) == 1  # then one request per row, for the rest of the run
    assert len(http_requests(api)) == 1 + 6
    for delivery_id in ids:
        shown = history(cli, delivery_id)
        assert shown["status"] == "delivered" and shown["attempts"] == 1


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        ("invalid_json", "the batch answer is not the JSON batch format (not valid JSON"),
        ("drop_last", "the batch answer has no response for request 3"),
    ],
)
def test_a_bad_batch_answer_retries_what_it_does_not_settle(cli, api, spoil, reason):
    api.set_plan([BcStep(batch_answer=spoil)])
    cli("connectors", "add", cli.file(bc_row(api.endpoint)))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(3)])
    cli("worker", "--until-idle", "--concurrency", "1")
    shown = [history(cli, delivery_id) for delivery_id in ids]
    assert all(s["status"] == "delivered" for s in shown)
    unsettled = shown if spoil == "invalid_json" else shown[2:]
    for item in unsettled:
        first, second = item["history"]
        assert (first["outcome"], second["outcome"]) == ("retry", "delivered")
        assert reason in first["error"] and first["code"] == "WB-361"
    for item in shown[: 3 - len(unsettled)]:
        assert item["attempts"] == 1  # settled by its response: never sent again


@pytest.mark.parametrize(("size", "word"), [(0, "greater than or equal to 1"), (101, "less")])
def test_batch_size_out_of_range_is_one_sentence_exit_2(cli, api, size, word):
    for command in ("validate", "add"):
        run = cli("connectors", command, cli.file(bc_row(api.endpoint, batch_size=size)), check=2)
        assert f"options.batch_size is {size}" in run.stderr and word in run.stderr
        assert "Traceback" not in run.stderr
    assert cli("connectors", "list", "--json").json() == []


def test_a_whole_batch_401_refreshes_the_token_once_and_resends_the_batch(
    cli, writeback_bc_api_factory, writeback_oauth2_server
):
    from writeback_testing.acceptors import BearerAcceptor

    server = writeback_oauth2_server
    server.register("wb", "client-Secret-0815", method="client_secret_basic")
    served: list[str] = []

    def validate(token: str) -> str | None:
        principal = server.principal(token)
        if principal is not None:
            served.append(token)
            server.revoke()  # the first token is good for one request only
        return principal

    api = writeback_bc_api_factory(auth=BearerAcceptor(validate))
    row = bc_row(api.endpoint, batch_size=2)
    row["auth"] = {
        "method": "oauth2",
        "token_url": server.token_url,
        "client_id": "wb",
        "client_secret": "client-Secret-0815",
        "scope": "api://bc/.default",
    }
    cli("connectors", "add", cli.file(row))
    ids = dispatch(cli, [appointment_event("create", f"G{n}") for n in range(4)])
    # Two batches: the first takes the token; the second is refused with it (401),
    # the token is refreshed once and the batch sent again.
    cli("worker", "--until-idle", "--concurrency", "1")
    assert len(api.rows) == 4
    assert [r.status for r in http_requests(api)] == [200, 401, 200]
    assert server.token_requests == 2
    for delivery_id in ids:
        shown = history(cli, delivery_id)
        assert shown["status"] == "delivered" and shown["attempts"] == 1
