"""The HTTP API against ``writeback serve --worker`` as a real process: ingest to a
loopback webhook, idempotency, refusals (422/413/415/400), pages, retry,
pause and resume, connectors, readiness and metrics."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

PASCAL = {
    "id": "pa-0001",
    "action": "update",
    "appointment": {
        "AppointmentGuid": "6f0c1e2a-0000-4000-8000-00000000a017",
        "AppointmentNo": "A-17",
        "Subject": "Boiler check",
        "Body": "Bring the spare valve",
        "StartDate": "2026-11-24T09:00:00+01:00",
        "EndDate": "2026-11-24T11:00:00+01:00",
        "PlanningQty": 2,
        "PlanningUOM": "H",
        "Importance": 1,
        "Task": {
            "TaskNo": "10",
            "Job": {"SourceApp": "PLANAPP", "SourceType": "SERVICE", "JobNo": "SO100"},
        },
        "Category": {"DisplayName": "Urgent"},
        "TimeMarker": {"Name": "Confirmed"},
        "Assignments": [{"Resource": {"ResourceNo": "R-ANNA"}}],
        "AppointmentFieldValues": [{"Name": "Customer", "Value": "Adatum"}],
    },
}


@pytest.fixture(scope="module")
def admin(service):
    return service.keys["admin"]


@pytest.fixture(scope="module")
def put_connector(service, receiver, admin):
    from types import SimpleNamespace

    def put(name: str, source_app: str, **extra):
        row = {
            "type": "webhook",
            "uri": f"{receiver.url}/hook/{name}",
            "api_type": "json",
            "source_app": source_app,
            "retry": {"schedule": [0.2, 0.2]},
            **extra,
        }
        got = service.client.put(
            f"/v1/connectors/{name}",
            content=json.dumps(row),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin}"},
        )
        assert got.status_code == 200, got.text
        return SimpleNamespace(name=name, source_app=source_app, row=got.json())

    return put


def _to(receiver, name: str) -> list:
    return [r for r in receiver.deliveries if r.path == f"/hook/{name}"]


def test_health_readiness_and_openapi_need_no_key(service) -> None:
    assert service.client.get("/healthz").json() == {"status": "ok"}
    assert service.client.get("/readyz").status_code == 200
    document = service.client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/v1/events", "/v1/deliveries", "/v1/deliveries/{id}/retry", "/v1/stats"):
        assert path in document["paths"]


def test_an_event_is_ingested_and_delivered(service, receiver, put_connector, h) -> None:
    hook = put_connector("ingest-hook", "INGESTAPP")
    answer = service.post_events(h.event("INGESTAPP", 1), service.keys["ingest"])
    assert answer.status_code == 202, answer.text
    (submitted,) = answer.json()["events"]
    assert submitted["created"] is True
    (delivery,) = submitted["deliveries"]
    assert delivery["connector"] == hook.name
    shown = service.wait_status(delivery["id"], "delivered", service.keys["read"])
    assert shown["history"][0]["outcome"] == "delivered"
    assert shown["next_attempt_at"] is None
    (sent,) = _to(receiver, hook.name)
    assert sent.json["data"]["appointmentGuid"] == "g-INGESTAPP-1"


def test_the_planning_applications_own_shape_with_basic_auth(
    service, receiver, put_connector, h
) -> None:
    hook = put_connector("planning-hook", "PLANAPP")
    answer = service.client.post(
        "/v1/events",
        content=json.dumps(PASCAL),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            **h.basic(service.keys["ingest"], "dime"),
        },
    )
    assert answer.status_code == 202, answer.text
    (delivery,) = answer.json()["events"][0]["deliveries"]
    service.wait_status(delivery["id"], "delivered", service.keys["read"])
    (sent,) = _to(receiver, hook.name)
    data = sent.json["data"]
    assert data["sourceApp"] == "PLANAPP" and data["jobNo"] == "SO100" and data["taskNo"] == "10"
    assert data["start"] == "2026-11-24T08:00:00Z" and data["resources"] == [
        {"resourceNo": "R-ANNA"}
    ]
    assert data["subject"] == "Boiler check" and data["category"] == "Urgent"


def test_a_known_event_id_creates_nothing(service, receiver, put_connector, h) -> None:
    hook = put_connector("idem-hook", "IDEMAPP")
    body = h.event("IDEMAPP", 1, id="evt-idem-1")
    first = service.post_events(body, service.keys["ingest"]).json()["events"][0]
    again = service.post_events([body], service.keys["ingest"]).json()["events"][0]
    assert first["created"] is True and again["created"] is False
    assert again["deliveries"] == first["deliveries"]
    service.wait_status(first["deliveries"][0]["id"], "delivered", service.keys["read"])
    listed = service.client.get(
        "/v1/deliveries", params={"connector": hook.name}, headers=h.bearer(service.keys["read"])
    ).json()["items"]
    assert len(listed) == 1 and len(_to(receiver, hook.name)) == 1


def _count(service, h, **params) -> int:
    got = service.client.get(
        "/v1/deliveries", params={"limit": 1000, **params}, headers=h.bearer(service.keys["read"])
    )
    return len(got.json()["items"])


def test_an_invalid_event_in_a_batch_writes_nothing(service, put_connector, h) -> None:
    hook = put_connector("refuse-hook", "REFUSEAPP")
    batch = [h.event("REFUSEAPP", 1), {"action": "explode", "appointment": {"sourceApp": "X"}}]
    answer = service.post_events(batch, service.keys["ingest"])
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "WB-102" and error["problems"]
    assert all(p.startswith("event #2:") for p in error["problems"])
    assert _count(service, h, connector=hook.name) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"action": ', "application/json", 400, "WB-903"),
        (b"\xff\xfe{}", "application/json", 400, "WB-903"),
        (b"[]", "application/json", 422, "WB-102"),
        (b'{"action": "create"}', "text/plain", 415, "WB-904"),
        (b'{"action": "create"}', "", 415, "WB-904"),
        (b"1" * 200 + b"\n", "application/json", 400, "WB-903"),
        (b"[" * 100_000, "application/json", 400, "WB-903"),
    ],
)
def test_bad_bodies_are_refused_in_one_sentence(
    service, h, body, content_type, status, code
) -> None:
    headers = {**h.bearer(service.keys["ingest"])}
    if content_type:
        headers["Content-Type"] = content_type
    answer = service.client.post("/v1/events", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert "Traceback" not in answer.text


def test_a_body_over_the_limit_is_413(service, h) -> None:
    big = json.dumps([h.event("BIGAPP", n, padding="x" * 1000) for n in range(1100)])
    assert len(big) > 1024 * 1024
    answer = service.client.post(
        "/v1/events",
        content=big,
        headers={"Content-Type": "application/json", **h.bearer(service.keys["ingest"])},
    )
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "WB-905"
    assert _count(service, h, connector="BIGAPP") == 0
    assert service.client.get("/healthz").status_code == 200


def test_pages_follow_the_cursor_and_a_tampered_one_is_400(service, put_connector, h) -> None:
    hook = put_connector("page-hook", "PAGEAPP")
    events = [h.event("PAGEAPP", n) for n in range(25)]
    assert service.post_events(events, service.keys["ingest"]).status_code == 202
    read = h.bearer(service.keys["read"])
    seen, after, pages = [], None, 0
    while True:
        params = {"connector": hook.name, "limit": 10, **({"after": after} if after else {})}
        page = service.client.get("/v1/deliveries", params=params, headers=read).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 25
    first = service.client.get(
        "/v1/deliveries", params={"connector": hook.name, "limit": 10}, headers=read
    ).json()
    cursor = first["next"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    for bad in (tampered, "not-a-cursor", "%00", cursor + "x" * 5):
        got = service.client.get(
            "/v1/deliveries", params={"connector": hook.name, "after": bad}, headers=read
        )
        assert got.status_code == 400, (bad, got.text)
        assert got.json()["error"]["message"]
    # The cursor belongs to its filters.
    other = service.client.get(
        "/v1/deliveries", params={"status": "dead", "after": cursor}, headers=read
    )
    assert other.status_code == 400
    for params in (
        {"limit": "0"},
        {"limit": "1001"},
        {"limit": "x"},
        {"status": "lost"},
        {"colour": "red"},
    ):
        assert service.client.get("/v1/deliveries", params=params, headers=read).status_code == 400


def test_a_dead_delivery_is_retried(service, receiver, put_connector, h) -> None:
    from writeback_testing.webhook import Step

    hook = put_connector("retry-hook", "RETRYAPP")
    receiver.set_plan({f"/hook/{hook.name}": [Step(400)]})
    answer = service.post_events(h.event("RETRYAPP", 1), service.keys["ingest"])
    (delivery,) = answer.json()["events"][0]["deliveries"]
    dead = service.wait_status(delivery["id"], "dead", service.keys["read"])
    assert dead["history"][-1]["status_code"] == 400
    assert (
        service.client.post(
            f"/v1/deliveries/{delivery['id']}/retry", headers=h.bearer(service.keys["read"])
        ).status_code
        == 403
    )
    again = service.client.post(
        f"/v1/deliveries/{delivery['id']}/retry", headers=h.bearer(service.keys["admin"])
    )
    assert again.status_code == 200 and again.json()["id"] == delivery["id"]
    delivered = service.wait_status(delivery["id"], "delivered", service.keys["read"])
    assert [a["outcome"] for a in delivered["history"]] == ["failed", "delivered"]
    missing = service.client.post(
        "/v1/deliveries/dlv_nope/retry", headers=h.bearer(service.keys["admin"])
    )
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "WB-107"


def test_a_paused_connector_waits_and_resumes(service, receiver, put_connector, h) -> None:
    hook = put_connector("pause-hook", "PAUSEAPP")
    admin = h.bearer(service.keys["admin"])
    paused = service.client.post(
        f"/v1/connectors/{hook.name}/pause", params={"reason": "maintenance"}, headers=admin
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True and paused.json()["paused_reason"] == "maintenance"
    answer = service.post_events(h.event("PAUSEAPP", 1), service.keys["ingest"])
    (delivery,) = answer.json()["events"][0]["deliveries"]
    # Long enough for a worker to have sent it, had the connector not been paused.
    time.sleep(1.0)
    shown = service.client.get(f"/v1/deliveries/{delivery['id']}", headers=admin).json()
    assert shown["status"] == "pending" and _to(receiver, hook.name) == []
    resumed = service.client.post(f"/v1/connectors/{hook.name}/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    service.wait_status(delivery["id"], "delivered", service.keys["read"])


def test_connectors_are_read_put_tested_and_removed(service, receiver, put_connector, h) -> None:
    admin, read = h.bearer(service.keys["admin"]), h.bearer(service.keys["read"])
    hook = put_connector(
        "secret-hook", "SECRETAPP", auth={"method": "basic", "username": "u", "password": "pw-Zq81"}
    )
    assert hook.row["auth"]["password"] == "***"
    listed = service.client.get("/v1/connectors", headers=read)
    assert listed.status_code == 200 and "pw-Zq81" not in listed.text
    shown = service.client.get(f"/v1/connectors/{hook.name}", headers=read).json()
    assert shown["name"] == hook.name and shown["paused"] is False
    tested = service.client.post(f"/v1/connectors/{hook.name}/test", headers=admin)
    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text
    assert "pw-Zq81" not in tested.text
    # Invalid rows: 422 with one sentence per problem, nothing stored.
    bad = service.client.put(
        "/v1/connectors/broken",
        content=json.dumps({"type": "webhook", "uri": "ftp://x", "source_app": "X", "colour": 1}),
        headers={"Content-Type": "application/json", **admin},
    )
    assert bad.status_code == 422 and len(bad.json()["error"]["problems"]) >= 2
    assert service.client.get("/v1/connectors/broken", headers=read).status_code == 404
    renamed = service.client.put(
        f"/v1/connectors/{hook.name}",
        content=json.dumps({**hook.row, "name": "other"}),
        headers={"Content-Type": "application/json", **admin},
    )
    assert renamed.status_code == 422
    for odd in ("..", "a%00b", "%E2%80%AE", "x" * 300, "'; DROP TABLE connectors; --"):
        got = service.client.get(f"/v1/connectors/{odd}", headers=read)
        assert got.status_code in (400, 404), (odd, got.status_code)
    removed = service.client.delete(f"/v1/connectors/{hook.name}", headers=admin)
    assert removed.status_code == 200
    assert service.client.get(f"/v1/connectors/{hook.name}", headers=read).status_code == 404
    assert service.client.delete(f"/v1/connectors/{hook.name}", headers=admin).status_code == 404


def test_stats_and_unknown_paths(service, h) -> None:
    read = h.bearer(service.keys["read"])
    stats = service.client.get("/v1/stats", headers=read).json()
    assert {"connectors", "totals", "attempts", "balanced"} <= set(stats)
    assert service.client.get("/v1/nothing", headers=read).status_code == 404
    assert service.client.get("/v1/nothing").json()["error"]["code"] == "WB-906"
    assert service.client.delete("/v1/events", headers=read).status_code == 405


def test_readiness_follows_the_schema(service) -> None:
    db = service.folder / "writeback.db"
    with sqlite3.connect(db) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    try:
        got = service.client.get("/readyz")
        assert got.status_code == 503 and "9999" in got.json()["error"]["message"]
        assert service.client.get("/healthz").status_code == 200
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    assert service.client.get("/readyz").status_code == 200


def test_no_key_or_secret_in_the_log(service) -> None:
    logs = service.logs()
    for key in service.keys.values():
        assert key not in logs and key[4:] not in logs
    assert "pw-Zq81" not in logs and "Traceback" not in logs
