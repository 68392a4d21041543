"""Done-when of the delivery-engine issue: order, coalescing, faults, through the real CLI."""

from __future__ import annotations

import json
import random
import threading
from collections import defaultdict

import pytest
from writeback_testing import Step

from .conftest import appointment_event, webhook_row


def events_file(cli, events):
    return cli.file("\n".join(json.dumps(e) for e in events), suffix=".jsonl")


def resent_once(seqs):
    """``seqs`` with each run of repeats (a change sent again) counted once."""
    return [s for i, s in enumerate(seqs) if i == 0 or seqs[i - 1] != s]


def successes_by_appointment(requests):
    """Per appointment, the ``seq`` field of each request answered 200, in arrival order."""
    seen = defaultdict(list)
    for r in requests:
        if r.method == "POST" and r.status == 200:
            data = r.json["data"]
            seen[data["appointmentGuid"]].append(data["seq"])
    return seen


def test_a_failing_first_change_holds_back_only_its_own_appointment(cli, writeback_receiver):
    """A's create fails twice, and then for as long as B is not through: were B
    held back behind A, A would use up its retries and go dead."""
    rx = writeback_receiver
    state = {"failures": 0, "b_done": False}
    lock = threading.Lock()

    def plan(request):
        data = request.json["data"]
        with lock:
            if data["appointmentGuid"] == "B" and data["seq"] == 1:
                state["b_done"] = True
            elif (
                data["appointmentGuid"] == "A"
                and request.json["type"] == "appointment.created"
                and (state["failures"] < 2 or not state["b_done"])
            ):
                state["failures"] += 1
                return Step(503)
        return None

    rx.set_plan(plan)
    row = webhook_row("hook", rx.url, retry={"schedule": [0.3] * 30})
    cli("connectors", "add", cli.file(row))
    events = [
        appointment_event("create", "A", seq=0),
        appointment_event("update", "A", seq=1),
        appointment_event("update", "A", seq=2),
        appointment_event("create", "B", seq=0),
        appointment_event("update", "B", seq=1),
    ]
    cli("dispatch", events_file(cli, events))
    cli("worker", "--until-idle", "--concurrency", "4")
    posts = [r for r in rx.requests if r.method == "POST"]
    a = [
        (r.json["data"]["seq"], r.status) for r in posts if r.json["data"]["appointmentGuid"] == "A"
    ]
    failures = state["failures"]
    assert failures >= 2 and a == [(0, 503)] * failures + [(0, 200), (1, 200), (2, 200)]
    b_done = max(r.received_at for r in posts if r.json["data"]["appointmentGuid"] == "B")
    a_created = next(r.received_at for r in posts if r.status == 200 and r.json["data"]["seq"] == 0
                     and r.json["data"]["appointmentGuid"] == "A")  # fmt: skip
    assert b_done < a_created  # B flowed while A waited for its retries


@pytest.mark.parametrize("coalesce", [True, False])
def test_coalescing_on_and_off(cli, writeback_receiver, coalesce):
    rx = writeback_receiver
    cli("connectors", "add", cli.file(webhook_row("hook", rx.url, coalesce=coalesce)))
    events = [
        appointment_event("create", "A", seq=0),  # kept: updates follow it
        appointment_event("update", "A", seq=1),
        appointment_event("update", "A", seq=2),
        appointment_event("update", "A", seq=3),  # the latest state
        appointment_event("create", "C", seq=0),  # never sent, then deleted: nothing at all
        appointment_event("update", "C", seq=1),
        appointment_event("delete", "C", seq=2),
    ]
    cli("dispatch", events_file(cli, events))
    cli("worker", "--until-idle")
    got = successes_by_appointment(rx.requests)
    stats = cli("deliveries", "stats", "--json").json()
    [hook] = stats["connectors"]
    assert stats["balanced"] and hook["submitted"] == 7
    if coalesce:
        assert got == {"A": [0, 3]}
        assert hook["superseded"] == 5 and hook["delivered"] == 2
        listed = cli("deliveries", "list", "--status", "superseded", "--json").json()
        assert all(d["last_error"].startswith("superseded") for d in listed)
    else:
        assert got == {"A": [0, 1, 2, 3], "C": [0, 1, 2]}
        assert hook["delivered"] == 7 and hook["superseded"] == 0


def test_every_delivery_survives_a_receiver_failing_30_percent(cli, writeback_receiver):
    rx = writeback_receiver
    rng = random.Random(20261124)
    lock = threading.Lock()

    def plan(request):
        with lock:
            roll = rng.random()
        if roll < 0.12:
            return Step(500)
        if roll < 0.16:
            return Step(429, retry_after=1)
        if roll < 0.23:
            return Step(503, delay=1.0)  # the client gives up first: a timeout
        if roll < 0.30:
            return Step(drop=True)  # connection reset
        return None

    rx.set_plan(plan)
    row = webhook_row("hook", rx.url, retry={"schedule": [0.05] * 40}, options={"timeout": 0.4})
    cli("connectors", "add", cli.file(row))
    events = [
        appointment_event("create" if n == 0 else "update", f"K{k}", seq=n)
        for n in range(8)
        for k in range(25)
    ]
    cli("dispatch", events_file(cli, events))
    cli("worker", "--until-idle", "--concurrency", "8")
    stats = cli("deliveries", "stats", "--json").json()
    assert stats["totals"]["delivered"] == 200 and stats["balanced"]
    failed = [r for r in rx.requests if r.method == "POST" and r.status != 200]
    assert len(failed) > 40  # the plan really did fail about 30%
    got = successes_by_appointment(rx.requests)
    # In order, each once; a 200 the worker did not hear in time (the 0.4 s
    # timeout, on a busy machine) is sent again at once: at-least-once, in order.
    assert {k: resent_once(seqs) for k, seqs in got.items()} == {
        f"K{k}": list(range(8)) for k in range(25)
    }


def test_deliveries_stats_and_retry_filters(cli, writeback_receiver_factory):
    ok = writeback_receiver_factory()
    # 404, not 410: a 410 Gone pauses the connector (tests/test_pause.py).
    gone = writeback_receiver_factory(plan=lambda request: Step(404))
    cli("connectors", "add", cli.file(webhook_row("ok", ok.url)))
    cli("connectors", "add", cli.file(webhook_row("gone", gone.url)))
    cli("dispatch", events_file(cli, [appointment_event("create", f"A{n}") for n in range(3)]))
    cli("worker", "--until-idle")
    table = cli("deliveries", "stats").stdout
    assert "balanced" in table and "gone" in table
    stats = cli("deliveries", "stats", "--json").json()
    by_name = {c["connector"]: c for c in stats["connectors"]}
    assert by_name["gone"]["dead"] == 3 and by_name["ok"]["delivered"] == 3
    assert stats["totals"]["submitted"] == 6 and stats["attempts"] == 6
    assert by_name["ok"]["oldest_pending_age_s"] is None

    assert "re-queued 0" in cli("deliveries", "retry", "--connector", "ok").stdout
    assert "re-queued 0" in cli("deliveries", "retry", "--dead", "--since", "2030-01-01").stdout
    assert (
        "re-queued 3" in cli("deliveries", "retry", "--connector", "gone", "--since", "1h").stdout
    )
    pending = cli("deliveries", "stats", "--json").json()["totals"]
    assert pending["pending"] == 3 and pending["oldest_pending_age_s"] >= 0

    bad = cli("deliveries", "retry", "--since", "yesterday-ish", check=2)
    assert "--since 'yesterday-ish' is not a time" in bad.stderr and "Traceback" not in bad.stderr
    unknown = cli("deliveries", "retry", "--connector", "nope", check=2)
    assert "nope" in unknown.stderr
    both = cli("deliveries", "retry", "dlv_x", "--dead", check=2)
    assert "one of the two kinds" in both.stderr
    assert cli("deliveries", "stats", "--json").json()["totals"]["pending"] == 3


def test_connectors_show_prints_the_throttle_and_coalescing_in_effect(cli, writeback_bc_api):
    rows = [
        webhook_row("hook", "http://127.0.0.1:9/h"),
        webhook_row("hook-coalesced", "http://127.0.0.1:9/h", coalesce=True),
        {
            "name": "bc",
            "type": "bc",
            "api_type": "json",
            "uri": writeback_bc_api.endpoint,
            "source_app": "CRONUSUS",
            "auth": {"method": "basic", "username": "u", "password": "p"},
        },
    ]
    # A row that gives only a group replaces the type's limits (docs/connectors.md).
    rows.append({**rows[2], "name": "bc-grouped", "throttle": {"group": "bc-shared"}})
    cli("connectors", "add", cli.file(rows))
    hook = cli("connectors", "show", "hook", "--json").json()
    assert hook["coalesce"] is False
    assert hook["throttle"] == {"max_concurrency": None, "rate": None, "group": "hook"}
    assert cli("connectors", "show", "hook-coalesced", "--json").json()["coalesce"] is True
    bc = cli("connectors", "show", "bc", "--json").json()
    port = writeback_bc_api.endpoint.split("://", 1)[1].split("/", 1)[0]
    assert bc["coalesce"] is True and bc["throttle"] == {
        "max_concurrency": 5,
        "rate": "6000/300s",
        "group": f"bc:{port}|basic:u",  # its environment and principal
    }
    grouped = cli("connectors", "show", "bc-grouped", "--json").json()["throttle"]
    assert grouped == {"max_concurrency": None, "rate": None, "group": "bc-shared"}
    assert "group: bc:" in cli("connectors", "show", "bc").stdout  # the YAML too


def test_dispatch_wait_returns_once_its_own_deliveries_are_settled(cli, writeback_receiver_factory):
    slow = writeback_receiver_factory(plan=lambda request: Step(503))
    fast = writeback_receiver_factory()
    cli("connectors", "add", cli.file(webhook_row("slow", slow.url, source_app="OTHER",
                                                  retry={"schedule": [600]})))  # fmt: skip
    cli("connectors", "add", cli.file(webhook_row("fast", fast.url)))
    # Another app's delivery waits 10 minutes for its retry: --wait must not wait
    # for it (the command's own timeout, 120 s, would end it first).
    cli("dispatch", cli.file(appointment_event("create", "X", source_app="OTHER")))
    cli("dispatch", cli.file(appointment_event("create", "A")), "--wait")
    assert fast.wait_for(1)[0].json["data"]["appointmentGuid"] == "A"
