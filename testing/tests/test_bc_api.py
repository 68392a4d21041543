"""The Business Central API page simulator speaks OData v4 as BC does."""

from __future__ import annotations

import base64
from collections.abc import Callable

import httpx
import pytest
from writeback_testing.acceptors import BasicAcceptor
from writeback_testing.bc_api import BcApiServer, BcStep

ROW = {
    "databaseAction": "I",
    "sourceApp": "CRONUSUS",
    "appointmentGuid": "G1",
    "subject": "Boiler check",
    "startDateTime": "2026-11-24T08:00:00Z",
    "isAllDayEvent": False,
    "importance": 1,
    "planningQuantity": 2.5,
    "resources": [{"resourceNo": "R-ANNA"}],
}


def test_post_creates_a_row_answering_201_with_entity_etag_and_location(
    writeback_bc_api: BcApiServer, client: httpx.Client
) -> None:
    api = writeback_bc_api
    assert api.endpoint.endswith(
        "/BC/api/dimeSoftware/dimeScheduler/v1.0/"
        "companies(4f1c0000-0000-4000-8000-000000000001)/appointments"
    )
    answer = client.post(api.endpoint, json=ROW)
    assert answer.status_code == 201
    entity = answer.json()
    assert answer.headers["location"] == f"{api.endpoint}({entity['id']})"
    assert answer.headers["odata-version"] == "4.0"
    assert answer.headers["etag"] == entity["@odata.etag"]
    assert entity["@odata.context"].endswith(
        "/$metadata#companies(4f1c0000-0000-4000-8000-000000000001)/appointments/$entity"
    )
    assert entity["subject"] == "Boiler check" and entity["jobNo"] == ""
    assert entity["endDateTime"] == "0001-01-01T00:00:00Z" and "resources" not in entity
    [row] = api.wait_for(1)
    assert row.fields["databaseAction"] == "I" and row.resources == [{"resourceNo": "R-ANNA"}]
    assert [(r.method, r.status) for r in api.requests] == [("POST", 201)]
    expanded = client.get(f"{api.endpoint}({row.id})", params={"$expand": "resources"}).json()
    assert expanded["resources"] == [{"resourceNo": "R-ANNA"}]


@pytest.mark.parametrize(
    ("change", "code", "text"),
    [
        ({"colour": "red"}, "BadRequest_PropertyNotFound", "The property 'colour' does not exist"),
        (
            {"resources": [{"resourceNo": "R", "name": "x"}]},
            "BadRequest_PropertyNotFound",
            "'name'",
        ),
        ({"importance": "high"}, "BadRequest", "to the expected type 'Edm.Int32'"),
        ({"locked": "false"}, "BadRequest", "'Edm.Boolean'"),
        ({"startDateTime": "2026-11-24T08:00:00"}, "BadRequest", "'Edm.DateTimeOffset'"),
        ({"databaseAction": "X"}, "BadRequest", "allowed: I, U, D"),
        ({"sourceApp": "S" * 31}, "Application_StringExceededLength", "less than or equal to 30"),
        ({"sourceApp": None}, "Application_FieldValidation", "sourceApp must have a value"),
    ],
)
def test_bad_bodies_get_odata_errors_and_create_nothing(
    writeback_bc_api: BcApiServer, client: httpx.Client, change: dict, code: str, text: str
) -> None:
    answer = client.post(writeback_bc_api.endpoint, json={**ROW, **change})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and text in error["message"]
    assert writeback_bc_api.rows == []


def test_not_json_and_unknown_paths(writeback_bc_api: BcApiServer, client: httpx.Client) -> None:
    answer = client.post(writeback_bc_api.endpoint, content=b"<xml/>")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "BadRequest"
    answer = client.get(writeback_bc_api.url + "/BC/api/other/v1.0/companies(x)/appointments")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "BadRequest_NotFound"


def test_collection_get_with_top_and_skip(
    writeback_bc_api: BcApiServer, client: httpx.Client
) -> None:
    for guid in ("G1", "G2", "G3"):
        client.post(writeback_bc_api.endpoint, json={**ROW, "appointmentGuid": guid})
    value = client.get(writeback_bc_api.endpoint, params={"$top": "2", "$skip": "1"}).json()[
        "value"
    ]
    assert [v["appointmentGuid"] for v in value] == ["G2", "G3"]
    assert client.get(writeback_bc_api.endpoint, params={"$filter": "x"}).status_code == 400


def test_patch_and_delete_need_a_current_if_match(
    writeback_bc_api: BcApiServer, client: httpx.Client
) -> None:
    created = client.post(writeback_bc_api.endpoint, json=ROW).json()
    url = f"{writeback_bc_api.endpoint}({created['id']})"
    assert client.patch(url, json={"subject": "x"}).status_code == 428
    first = client.patch(url, json={"subject": "New"}, headers={"If-Match": created["@odata.etag"]})
    assert first.status_code == 200 and first.json()["subject"] == "New"
    assert first.json()["@odata.etag"] != created["@odata.etag"]
    stale = client.patch(
        url, json={"subject": "Lost"}, headers={"If-Match": created["@odata.etag"]}
    )
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "Request_EntityChanged"
    assert client.get(url).json()["subject"] == "New"
    stale_delete = client.delete(url, headers={"If-Match": created["@odata.etag"]})
    assert stale_delete.status_code == 409
    assert client.delete(url, headers={"If-Match": "*"}).status_code == 204
    assert client.get(url).status_code == 404 and writeback_bc_api.rows == []


def test_plan_answers_posts_in_order_then_normally(
    writeback_bc_api_factory: Callable[..., BcApiServer], client: httpx.Client
) -> None:
    api = writeback_bc_api_factory(
        plan=[
            BcStep(429, retry_after=7),
            BcStep(503, code="Internal_ServiceUnavailable", message="busy"),
            BcStep(omit_location=True),
        ]
    )
    throttled = client.post(api.endpoint, json=ROW)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "7"
    assert throttled.json()["error"]["code"] == "Application_TooManyRequests"
    assert client.get(api.endpoint).status_code == 200  # GETs consume no step
    assert client.post(api.endpoint, json=ROW).json()["error"]["message"] == "busy"
    no_location = client.post(api.endpoint, json=ROW)
    assert no_location.status_code == 201 and "location" not in no_location.headers
    assert "location" in client.post(api.endpoint, json=ROW).headers
    assert len(api.rows) == 2
    assert [r.status for r in api.requests] == [429, 200, 503, 201, 201]


def test_omit_location_mode_and_drop(
    writeback_bc_api_factory: Callable[..., BcApiServer], client: httpx.Client
) -> None:
    api = writeback_bc_api_factory(omit_location=True, plan=[BcStep(drop=True)])
    with pytest.raises(httpx.TransportError):
        client.post(api.endpoint, json=ROW)
    answer = client.post(api.endpoint, json=ROW)
    assert answer.status_code == 201 and "location" not in answer.headers
    assert api.requests[0].dropped and api.requests[0].status is None
    assert len(api.rows) == 1


def test_callable_plan_sees_each_request(
    writeback_bc_api_factory: Callable[..., BcApiServer], client: httpx.Client
) -> None:
    api = writeback_bc_api_factory(
        plan=lambda r: BcStep(500) if r.json and r.json.get("subject") == "boom" else None
    )
    assert client.post(api.endpoint, json={**ROW, "subject": "boom"}).status_code == 500
    assert client.post(api.endpoint, json=ROW).status_code == 201


def test_basic_auth_records_the_principal(
    writeback_bc_api_factory: Callable[..., BcApiServer], client: httpx.Client
) -> None:
    acceptor = BasicAcceptor({"WEBUSER": "key"})
    api = writeback_bc_api_factory(auth=acceptor)
    refused = client.post(api.endpoint, json=ROW, auth=("WEBUSER", "wrong"))
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert client.post(api.endpoint, json=ROW, auth=("WEBUSER", "key")).status_code == 201
    [row] = api.rows
    assert row.principal == "WEBUSER"
    assert (acceptor.accepted, acceptor.refused) == (1, 1)
    assert [r.status for r in api.requests] == [401, 201]
    token = base64.b64decode(api.requests[1].headers["authorization"].split()[1])
    assert token == b"WEBUSER:key"


def test_wait_for_names_what_arrived(writeback_bc_api: BcApiServer, client: httpx.Client) -> None:
    client.post(writeback_bc_api.endpoint, json={"colour": 1})
    with pytest.raises(AssertionError, match=r"POST .* -> 400"):
        writeback_bc_api.wait_for(1, timeout=0.05)
