"""Done-when of the foundation issue, through the real CLI and the real receiver."""

from __future__ import annotations

import base64
import json
import os

from writeback_testing import Step
from writeback_webhook import verify_signature

from .conftest import Cli, appointment_event, webhook_row

SECRET = "whsec_" + base64.b64encode(b"e2e-signing-key-0123456789").decode()


def test_create_update_delete_arrive_with_envelope_and_headers(cli, writeback_receiver):
    rx = writeback_receiver
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url + "/h")))
    events = [
        {
            **appointment_event("create", "G1", unknownField={"kept": True}),
            "id": "e1",
            "occurred_at": "2026-11-23T10:00:00Z",
        },
        {**appointment_event("update", "G1"), "id": "e2"},
        {**appointment_event("delete", "G1"), "id": "e3"},
    ]
    made = cli("dispatch", cli.file("\n".join(json.dumps(e) for e in events)), "--json").json()
    assert [m["event_id"] for m in made] == ["e1", "e2", "e3"]
    assert all(m["deliveries"][0]["connector"] == "hook" for m in made)
    cli("worker", "--until-idle")
    got = rx.wait_for(3)
    assert [r.json["type"] for r in got] == [
        "appointment.created",
        "appointment.updated",
        "appointment.deleted",
    ]
    first = got[0]
    assert first.path == "/h" and first.headers["content-type"] == "application/json"
    assert first.json["timestamp"] == "2026-11-23T10:00:00Z"
    assert first.json["data"]["appointmentGuid"] == "G1"
    assert first.json["data"]["unknownField"] == {"kept": True}
    assert [r.headers["webhook-id"] for r in got] == [m["deliveries"][0]["id"] for m in made]
    assert all(r.headers["webhook-timestamp"].isdigit() for r in got)
    assert "webhook-signature" not in first.headers


def test_webhook_id_is_stable_across_retries_and_retry_after_is_waited_out(cli, writeback_receiver):
    rx = writeback_receiver
    rx.set_plan([Step(503, retry_after=1), Step(500)])
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    cli("worker", "--until-idle")
    posts = [r for r in rx.requests if r.method == "POST"]
    assert [r.status for r in posts] == [503, 500, 200]
    assert {r.headers["webhook-id"] for r in posts} == {made["deliveries"][0]["id"]}
    assert posts[1].received_at - posts[0].received_at >= 1.0  # Retry-After: 1
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "delivered" and shown["attempts"] == 3
    assert [h["outcome"] for h in shown["history"]] == ["retry", "retry", "delivered"]
    assert [h["status_code"] for h in shown["history"]] == [503, 500, 200]
    assert set(shown["history"][0]) == {
        "n",
        "started_at",
        "duration_ms",
        "status_code",
        "outcome",
        "code",
        "error",
    }


def test_an_answer_with_a_nul_character_is_recorded_and_retried(
    tmp_path, writeback_any_db_url, writeback_receiver
):
    """An endpoint's error body with a NUL in it must not stop the worker: on
    PostgreSQL it failed the record of the whole batch, at every retry."""
    rx = writeback_receiver
    rx.set_plan([Step(500, body="upstream\x00broken")])
    cli = Cli(tmp_path, writeback_any_db_url)
    if writeback_any_db_url.startswith("postgresql"):  # a server's key comes from the environment
        cli.env["WRITEBACK_SECRET_KEY"] = os.environ["WRITEBACK_SECRET_KEY"]
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli("dispatch", cli.file(appointment_event("create", "G1")), "--json").json()
    cli("worker", "--until-idle")
    assert [r.status for r in rx.requests if r.method == "POST"] == [500, 200]
    shown = cli("deliveries", "show", made["deliveries"][0]["id"], "--json").json()
    assert shown["status"] == "delivered"
    assert [h["status_code"] for h in shown["history"]] == [500, 200]
    assert "upstream\ufffdbroken" in shown["history"][0]["error"]


def test_signature_verifies_and_bare_payload_mode(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(signing_secret=SECRET)
    cli(
        "connectors",
        "add",
        cli.file(
            [
                webhook_row("signed", rx.url + "/env", options={"signing_secret": SECRET}),
                webhook_row(
                    "bare",
                    rx.url + "/bare",
                    options={"signing_secret": SECRET, "payload": "appointment"},
                ),
            ]
        ),
    )
    cli("dispatch", cli.file(appointment_event("update", "G9")), "--wait")
    got = {r.path: r for r in rx.wait_for(2)}
    for request in got.values():
        assert request.signature_valid is True
        assert verify_signature(SECRET, request.headers, request.body)
    assert got["/env"].json["type"] == "appointment.updated"
    assert got["/bare"].json["appointmentGuid"] == "G9"
    assert got["/bare"].headers["x-writeback-action"] == "update"
    tampered = dict(got["/env"].headers)
    assert not verify_signature(SECRET, tampered, got["/env"].body + b" ")


def test_routing_by_source_app_crud_filter_and_disabled(cli, writeback_receiver):
    rx = writeback_receiver
    cli(
        "connectors",
        "add",
        cli.file(
            [
                webhook_row("all", rx.url + "/all"),
                webhook_row("creates", rx.url + "/creates", crud_types=["create"]),
                webhook_row("other", rx.url + "/other", source_app="OTHER"),
                webhook_row("off", rx.url + "/off", enabled=False),
                webhook_row("later-off", rx.url + "/later-off"),
            ]
        ),
    )
    cli("connectors", "disable", "later-off")
    run = cli(
        "dispatch",
        cli.file(
            [
                appointment_event("create", "A"),
                appointment_event("update", "A"),
                appointment_event("create", "Z", source_app="NOBODY"),
            ]
        ),
        "--json",
    )
    targets = [sorted(d["connector"] for d in m["deliveries"]) for m in run.json()]
    assert targets == [["all", "creates"], ["all"], []]
    assert "no enabled connector for sourceApp 'NOBODY'" in run.stderr
    cli("worker", "--until-idle")
    assert sorted(r.path for r in rx.wait_for(3)) == ["/all", "/all", "/creates"]
    listed = cli("connectors", "list", "--json").json()
    assert {c["name"]: c["enabled"] for c in listed}["later-off"] is False


def test_400_goes_dead_after_one_attempt_and_retry_dead_replays(cli, writeback_receiver):
    rx = writeback_receiver
    rx.set_plan(
        [Step(400, body={"error": {"code": "BadRequest_Invalid", "message": "no such job"}})]
    )
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url)))
    [made] = cli(
        "dispatch", cli.file(appointment_event("create", "G1")), "--json", "--wait", check=1
    ).json()
    delivery_id = made["deliveries"][0]["id"]
    dead = cli("deliveries", "list", "--status", "dead", "--json").json()
    assert [d["id"] for d in dead] == [delivery_id]
    assert dead[0]["attempts"] == 1 and "BadRequest_Invalid: no such job" in dead[0]["last_error"]
    assert set(dead[0]) == {
        "id",
        "event_id",
        "connector",
        "action",
        "appointment",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
        "next_attempt_at",
    }
    assert dead[0]["appointment"] == "G1"
    cli("deliveries", "retry", "--dead")
    cli("worker", "--until-idle")
    shown = cli("deliveries", "show", delivery_id, "--json").json()
    assert shown["status"] == "delivered" and [h["n"] for h in shown["history"]] == [1, 2]
    posts = [r for r in rx.requests if r.method == "POST"]
    assert len({r.headers["webhook-id"] for r in posts}) == 1


def test_resubmitting_a_known_event_creates_nothing(cli, writeback_receiver):
    cli("connectors", "add", cli.file(webhook_row("hook", writeback_receiver.url)))
    events = cli.file({**appointment_event("create", "G1"), "id": "evt-same"})
    first = cli("dispatch", events, "--json").json()
    second = cli("dispatch", events, "--json").json()
    assert first == second
    assert len(cli("deliveries", "list", "--json").json()) == 1


def test_connectors_test_probes_with_auth(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(basic_auth=("u", "right-password"))
    cli(
        "connectors",
        "add",
        cli.file(
            [
                webhook_row(
                    "good",
                    rx.url,
                    auth={"method": "basic", "username": "u", "password": "right-password"},
                ),
                webhook_row(
                    "bad",
                    rx.url,
                    auth={"method": "basic", "username": "u", "password": "wrong-password"},
                ),
                webhook_row("down", "http://127.0.0.1:9/"),
            ]
        ),
    )
    assert "ok: good" in cli("connectors", "test", "good").stdout
    bad = cli("connectors", "test", "bad", check=1)
    assert "credentials were refused (HTTP 401)" in bad.stderr
    assert "not reachable" in cli("connectors", "test", "down", check=1).stderr
    assert {r.method for r in rx.requests} == {"HEAD"}  # nothing written
    assert "wrong-password" not in bad.stderr + bad.stdout


def test_basic_auth_delivery(cli, writeback_receiver_factory):
    rx = writeback_receiver_factory(basic_auth=("planner", "pw-123456"))
    cli(
        "connectors",
        "add",
        cli.file(
            webhook_row(
                "basic",
                rx.url,
                auth={"method": "basic", "username": "planner", "password": "env:WB_E2E_PW"},
            )
        ),
    )
    cli.env["WB_E2E_PW"] = "pw-123456"
    cli("dispatch", cli.file(appointment_event("create", "G1")), "--wait")
    [got] = rx.wait_for(1)
    expected = "Basic " + base64.b64encode(b"planner:pw-123456").decode()
    assert got.headers["authorization"] == expected
    shown = cli("connectors", "show", "basic", "--json").json()
    assert shown["auth"]["password"] == "env:WB_E2E_PW"
