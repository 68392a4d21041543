"""What the working bc type builds, and how it reviews answers (unit: no network)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from writeback.plugin import AttemptResult, Delivery, Outcome, ValidatedConnector, classify_status
from writeback_bc import StagingConnector

MakeConnector = Callable[..., ValidatedConnector]
MakeDelivery = Callable[..., Delivery]


def working(connector: ValidatedConnector) -> StagingConnector:
    return StagingConnector(connector.context())


def test_json_message_is_one_staging_row(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    connector = make_connector(fields={"subject": "description"})
    message = working(connector).build_message(make_delivery("create"))
    assert (message.method, message.url) == ("POST", connector.row.uri)
    assert message.operation is None and message.content is None
    assert message.headers == {"accept": "application/json"}
    assert message.payload["databaseAction"] == "I"
    assert message.payload["description"] == "Kessel prüfen"
    assert "subject" not in message.payload and "fieldValues" not in message.payload


def test_soap_message_is_the_page_create(
    make_connector: MakeConnector, make_delivery: MakeDelivery
) -> None:
    connector = make_connector("soap")
    message = working(connector).build_message(make_delivery("delete"))
    assert (message.method, message.url, message.operation) == ("POST", connector.row.uri, "Create")
    assert message.payload["Database_Action"] == "D"
    assert message.payload["Resource_Nos"] == "R-ANNA,R-BEN"


def test_rest_alias_builds_json(make_connector: MakeConnector, make_delivery: MakeDelivery) -> None:
    message = working(make_connector("rest")).build_message(make_delivery())
    assert message.operation is None and message.payload["databaseAction"] == "U"


def test_201_with_location_is_delivered(make_connector: MakeConnector) -> None:
    result = classify_status(201, {"Location": "https://bc/appointments(1)"})
    assert working(make_connector()).review(result) == result


@pytest.mark.parametrize("status", [200, 201, 204])
def test_2xx_without_location_fails_with_its_code(
    make_connector: MakeConnector, status: int
) -> None:
    reviewed = working(make_connector()).review(classify_status(status, {}))
    assert reviewed.outcome is Outcome.FAILED and reviewed.status_code == status
    assert reviewed.code == "WB-330"
    assert reviewed.error is not None and reviewed.error.startswith("WB-330: ")
    assert "without a Location header" in reviewed.error


def test_soap_needs_no_location(make_connector: MakeConnector) -> None:
    result = classify_status(200, {})
    assert working(make_connector("soap")).review(result) == result


@pytest.mark.parametrize(("status", "code"), [(401, "WB-331"), (403, "WB-332"), (404, "WB-333")])
def test_usual_failures_get_advice_and_keep_the_odata_error(
    make_connector: MakeConnector, status: int, code: str
) -> None:
    body = '{"error": {"code": "Authentication_InvalidCredentials", "message": "nope"}}'
    reviewed = working(make_connector()).review(classify_status(status, {}, body))
    assert (reviewed.outcome, reviewed.code) == (Outcome.FAILED, code)
    assert reviewed.error is not None and reviewed.error.startswith(f"{code}: Business Central")
    assert f"HTTP {status}: Authentication_InvalidCredentials: nope" in reviewed.error


def test_retries_are_left_alone(make_connector: MakeConnector) -> None:
    result = classify_status(429, {"Retry-After": "3"}, '{"error": {"code": "x", "message": "y"}}')
    assert working(make_connector()).review(result) == result
    dropped = AttemptResult(Outcome.RETRY, error="connection failed: reset")
    assert working(make_connector()).review(dropped) == dropped


def test_probes_are_gets(make_connector: MakeConnector) -> None:
    connector = make_connector()
    probe = working(connector).probe_message()
    assert (probe.method, probe.url) == ("GET", connector.row.uri + "?$top=1")
    soap = make_connector("soap")
    assert working(soap).probe_message().url == soap.row.uri
    assert working(soap).probe_message().operation is None


@pytest.mark.parametrize(
    ("api_type", "auth", "advice"),
    [
        ("json", None, "check auth.username and auth.password (the user's web service access"),
        (
            "soap",
            {"method": "ntlm", "username": "CRONUS\\u", "password": "pw-1"},
            "check auth.username (DOMAIN\\user) and auth.password",
        ),
        (
            "json",
            {
                "method": "oauth2",
                "token_url": "https://login.example.com/token",
                "client_id": "wb",
                "client_secret": "s-1",
            },
            "check auth.client_id and auth.client_secret",
        ),
    ],
)
def test_refused_credentials_advice_fits_the_auth_method(
    make_connector: MakeConnector, api_type: str, auth: dict | None, advice: str
) -> None:
    reviewed = working(make_connector(api_type, auth=auth)).review(classify_status(401, {}))
    assert reviewed.error is not None
    assert reviewed.error.startswith(
        f"WB-331: Business Central refused the credentials (HTTP 401); {advice}"
    )
    assert reviewed.error.endswith(".") and reviewed.error.count("WB-") == 1


@pytest.mark.parametrize(
    ("status", "ok", "says"),
    [
        (200, True, "reached and accepted (HTTP 200)"),
        (404, False, "WB-333: Business Central has no such endpoint (HTTP 404: gone)"),
        (405, False, "reached, but HTTP 405: gone"),
        (302, False, "redirected to https://login.example.com/"),
        (403, False, "credentials were refused (HTTP 403)"),
        (500, False, "the endpoint is failing (HTTP 500: gone)"),
    ],
)
def test_a_probe_is_ok_only_for_a_2xx(
    make_connector: MakeConnector, status: int, ok: bool, says: str
) -> None:
    for api_type in ("json", "soap"):
        answer = classify_status(status, {"Location": "https://login.example.com/"}, "gone")
        report = working(make_connector(api_type)).judge_probe(answer)
        assert report.ok is ok
        assert says in report.detail
