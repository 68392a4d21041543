"""``/metrics`` counted against a known run, and a fuzz of the API: no 500s."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def test_metrics_count_a_known_run(make_service, receiver, h) -> None:
    from writeback_testing.webhook import Step

    service = make_service("--worker")
    admin = service.make_key("admin", "admin")
    service.start()
    row = h.webhook_row("metered", receiver.url, "METERAPP", retry={"schedule": []})
    put = service.client.put(
        "/v1/connectors/metered",
        content=json.dumps(row),
        headers={"Content-Type": "application/json", **h.bearer(admin)},
    )
    assert put.status_code == 200, put.text
    # Three delivered, one refused (400: failed, dead at once).
    receiver.set_plan({"/hook/metered": [Step(200), Step(400), Step(200), Step(200)]})
    for n in range(4):
        answer = service.post_events(h.event("METERAPP", n, id=f"evt-meter-{n}"), admin)
        (delivery,) = answer.json()["events"][0]["deliveries"]
        status = "dead" if n == 1 else "delivered"
        service.wait_status(delivery["id"], status, admin)
    again = service.post_events(h.event("METERAPP", 0, id="evt-meter-0"), admin)
    assert again.json()["events"][0]["created"] is False  # a known id: not counted
    service.client.post("/v1/connectors/metered/pause", headers=h.bearer(admin))
    text = service.client.get("/metrics").text
    got = _samples(text)
    assert got["writeback_events_submitted_total"] == 4
    assert got['writeback_attempts_total{connector="metered",outcome="delivered"}'] == 3
    assert got['writeback_attempts_total{connector="metered",outcome="failed"}'] == 1
    assert got['writeback_attempt_duration_seconds_count{connector="metered"}'] == 4
    assert got['writeback_deliveries{connector="metered",status="delivered"}'] == 3
    assert got['writeback_deliveries{connector="metered",status="dead"}'] == 1
    assert got['writeback_deliveries{connector="metered",status="pending"}'] == 0
    assert got['writeback_oldest_pending_seconds{connector="metered"}'] == 0
    assert got['writeback_connector_paused{connector="metered"}'] == 1
    assert re.search(r"^# TYPE writeback_token_requests_total counter$", text, re.M)
    assert service.stop() in (0, -15)


_PATHS = [
    "/v1/events",
    "/v1/deliveries",
    "/v1/deliveries/{x}",
    "/v1/deliveries/{x}/retry",
    "/v1/connectors",
    "/v1/connectors/{x}",
    "/v1/connectors/{x}/test",
    "/v1/connectors/{x}/pause",
    "/v1/connectors/{x}/resume",
    "/v1/stats",
    "/readyz",
    "/openapi.json",
]
_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_EVENTISH = st.fixed_dictionaries(
    {"action": st.sampled_from(["create", "update", "delete", "x", ""])},
    optional={
        "id": st.text(max_size=30) | st.integers(),
        "appointment": st.dictionaries(
            st.sampled_from(["sourceApp", "appointmentGuid", "Task", "StartDate", "id", "?"]),
            _JSONISH,
            max_size=5,
        ),
        "extra": _JSONISH,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    path=st.sampled_from(_PATHS),
    segment=st.text(min_size=1, max_size=40).filter(lambda s: "/" not in s and s not in ".."),
    body=st.one_of(
        st.binary(max_size=200),
        _JSONISH.map(lambda v: json.dumps(v).encode()),
        st.lists(_EVENTISH, max_size=3).map(lambda v: json.dumps(v).encode()),
    ),
    content_type=st.sampled_from(["application/json", "application/x-ndjson", "text/plain", ""]),
    query=st.dictionaries(
        st.sampled_from(["status", "connector", "limit", "after", "reason", "zz"]),
        st.text(max_size=30),
        max_size=3,
    ),
)
def test_the_api_never_answers_500(
    service, method, path, segment, body, content_type, query
) -> None:
    headers = {"Authorization": f"Bearer {service.keys['admin']}"}
    if content_type:
        headers["Content-Type"] = content_type
    answer = service.client.request(
        method,
        # Percent-encoded, as a client sends it (httpx refuses raw control characters).
        path.replace("{x}", quote(segment, safe="")),
        content=body,
        params=query,
        headers=headers,
    )
    assert answer.status_code < 500, (answer.status_code, answer.text)
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert error["code"].startswith("WB-") and error["message"]
