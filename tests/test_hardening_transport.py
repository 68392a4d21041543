"""Deadlines, answer sizes and Retry-After: the real CLI against loopback servers
that trickle, flood or ask for a year's pause (``writeback_hostile_factory``).

- ``timeout`` is the deadline of a whole attempt, in every format: an endpoint
  that trickles its answer a byte a second gets ``retry`` with "timed out" and
  frees its slot, so a healthy connector's deliveries keep flowing.
- Only a bounded prefix of an answer is read (1 MiB; a WSDL 16 MiB); the
  answer is classified by what was read.
- A ``Retry-After`` beyond a day pauses the connector for a day.
"""

from __future__ import annotations

import json
from typing import Any

from writeback_testing.hostile import MIB, Answer, Flood, PageWsdl, Trickle

from .conftest import appointment_event, webhook_row


def soap_row(name: str, uri: str, source_app: str, **options: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "bc",
        "api_type": "soap",
        "uri": uri,
        "source_app": source_app,
        "auth": {"method": "basic", "username": "WEBUSER", "password": "Nav-Pa55-4711"},
        "retry": {"schedule": [0.2]},
        "coalesce": False,
        "options": {"allow_insecure_http": True, **options},
    }


def events(source_app: str, count: int) -> str:
    return "\n".join(
        json.dumps({**appointment_event("create", f"{source_app}-{i}", source_app=source_app)})
        for i in range(count)
    )


def history(cli: Any, delivery_id: str) -> list[dict[str, Any]]:
    return list(cli("deliveries", "show", delivery_id, "--json").json()["history"])


def test_a_trickling_answer_times_out_and_a_healthy_connector_keeps_flowing(
    cli: Any, writeback_hostile_factory: Any, writeback_receiver: Any
) -> None:
    # Each answer would take half a minute at a byte a second; the timeout is 2 s.
    slow_json = writeback_hostile_factory({"POST": Trickle(b" " * 30)})
    slow_soap = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": Trickle(b" " * 30, headers={"Content-Type": "text/xml"})}
    )
    rows = [
        webhook_row("slow-json", slow_json.url, source_app="SLOWJ", options={"timeout": 2})
        | {"retry": {"schedule": [0.2]}},
        soap_row("slow-soap", slow_soap.url + "/BC/WS/Page/Appointment", "SLOWS", timeout=2),
        webhook_row("healthy", writeback_receiver.url, source_app="OK"),
    ]
    cli("connectors", "add", cli.file(rows))
    for source_app, count in (("SLOWJ", 1), ("SLOWS", 1), ("OK", 20)):
        cli("dispatch", cli.file(events(source_app, count)))
    cli("worker", "--until-idle", "--concurrency", "2")
    listed = cli("deliveries", "list", "--json").json()
    by_connector: dict[str, list[dict[str, Any]]] = {}
    for delivery in listed:
        by_connector.setdefault(delivery["connector"], []).append(delivery)
    assert [d["status"] for d in by_connector["healthy"]] == ["delivered"] * 20
    assert len(writeback_receiver.requests) == 20
    for name in ("slow-json", "slow-soap"):
        (slow,) = by_connector[name]
        assert slow["status"] == "dead"
        attempts = history(cli, slow["id"])
        assert [a["outcome"] for a in attempts] == ["retry", "retry"]
        for attempt in attempts:
            assert attempt["error"].startswith("timed out: no complete answer within 2 s")
            assert attempt["duration_ms"] < 20_000  # well below the answer's half minute
    # writeback hung up on every trickled answer
    assert slow_json.wait_abandoned(2) == 2 and slow_soap.wait_abandoned(2) == 2


def test_only_a_bounded_prefix_of_an_answer_is_read(
    cli: Any, writeback_hostile_factory: Any
) -> None:
    # Each server declares 100 MiB, sends a few MiB, then stays silent: a client
    # reading the whole body would wait until its timeout.
    xml = "text/xml; charset=utf-8"
    servers = {
        "json-ok": {"POST": Flood(200)},
        "json-error": {"POST": Flood(500, content_type="text/plain", filler=b"e")},
        "soap-ok": {"GET": PageWsdl(), "POST": Flood(200, content_type=xml)},
        "soap-error": {"GET": PageWsdl(), "POST": Flood(500, filler=b"e")},
        "soap-wsdl": {"GET": Flood(200, sent=17 * MIB)},
    }
    started = {name: writeback_hostile_factory(b) for name, b in servers.items()}
    rows = [
        *(
            webhook_row(name, started[name].url, options={"timeout": 5})
            | {"retry": {"schedule": []}}
            for name in ("json-ok", "json-error")
        ),
        *(
            soap_row(name, started[name].url + "/BC/WS/Page/Appointment", "CRONUSUS", timeout=5)
            | {"retry": {"schedule": []}}
            for name in ("soap-ok", "soap-error", "soap-wsdl")
        ),
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(events("CRONUSUS", 1)))
    cli("worker", "--until-idle")
    done = {d["connector"]: d for d in cli("deliveries", "list", "--json").json()}
    assert done["json-ok"]["status"] == "delivered"
    assert done["soap-ok"]["status"] == "delivered"
    for name in ("json-error", "soap-error"):
        error = done[name]["last_error"]
        assert error.startswith("HTTP 500: eeee") and "…" in error, error
        assert len(error) < 1000
    assert done["soap-wsdl"]["status"] == "dead"
    assert "WB-323" in done["soap-wsdl"]["last_error"]
    assert "larger than 16 MiB" in done["soap-wsdl"]["last_error"]
    for server in started.values():
        assert server.wait_abandoned(1) == 1  # writeback stopped reading and hung up


def test_a_year_of_retry_after_pauses_the_connector_for_a_day(
    cli: Any, writeback_hostile_factory: Any
) -> None:
    year = 365 * 86400
    server = writeback_hostile_factory(
        {"POST": Answer(429, b"slow down", {"Retry-After": str(year)})}
    )
    # No retries: the delivery goes dead at once and the worker can go idle.
    cli(
        "connectors",
        "add",
        cli.file([webhook_row("hook", server.url) | {"retry": {"schedule": []}}]),
    )
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    worker = cli("worker", "--until-idle")
    (delivery,) = cli("deliveries", "list", "--json").json()
    (attempt,) = history(cli, delivery["id"])
    assert attempt["outcome"] == "retry" and attempt["status_code"] == 429
    assert f"Retry-After {year} s, honoured as 86400 s" in attempt["error"]
    assert "connector hook paused for 86400 s" in worker.stderr


def test_a_huge_authentication_challenge_is_not_read_whole(
    cli: Any, writeback_hostile_factory: Any
) -> None:
    # An NTLM challenge (401) with an endless body: the handshake reads a bounded
    # prefix of it, then gives up on the connection instead of waiting.
    challenge = Flood(401, content_type="text/html", headers={"WWW-Authenticate": "NTLM"})
    server = writeback_hostile_factory({"*": challenge})
    row = soap_row("bc", server.url + "/BC/WS/Page/Appointment", "CRONUSUS", timeout=20)
    row |= {"auth": {"method": "ntlm", "username": "CRONUS\\WEBUSER", "password": "Ntlm-Pa55!"}}
    row |= {"retry": {"schedule": []}}
    cli("connectors", "add", cli.file([row]))
    cli("dispatch", cli.file(events("CRONUSUS", 1)))
    cli("worker", "--until-idle")
    (delivery,) = cli("deliveries", "list", "--json").json()
    (attempt,) = history(cli, delivery["id"])
    assert attempt["outcome"] == "failed", attempt
    assert "timed out" not in attempt["error"]
    assert server.wait_abandoned(1) >= 1
