"""The hostile server: redirects, trickles, floods, each per method, in order."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from writeback_testing.hostile import (
    MIB,
    Answer,
    Flood,
    HostileServer,
    OpenIdConfiguration,
    PageWsdl,
    Redirect,
    Trickle,
)

Hostile = Callable[..., HostileServer]


def test_behaviours_per_method_and_in_order(writeback_hostile_factory: Hostile) -> None:
    server = writeback_hostile_factory(
        {"POST": [Answer(503, b"busy"), Answer(201, b"made")], "*": Redirect("/there", 308)}
    )
    answers = [requests.post(server.url + "/a", data=b"x", timeout=5) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 201, 201]
    moved = requests.get(server.url + "/a", allow_redirects=False, timeout=5)
    assert (moved.status_code, moved.headers["Location"]) == (308, "/there")
    assert [r.method for r in server.requests] == ["POST", "POST", "POST", "GET"]


def test_openid_configuration_names_the_servers_token_endpoint_for_the_tenant(
    writeback_hostile_factory: Hostile,
) -> None:
    server = writeback_hostile_factory({"GET": OpenIdConfiguration()})
    url = server.url + "/fabrikam/v2.0/.well-known/openid-configuration"
    document = requests.get(url, timeout=5).json()
    assert document["token_endpoint"] == f"{server.url}/fabrikam/oauth2/v2.0/token"
    assert document["issuer"] == f"{server.url}/fabrikam/v2.0"


def test_page_wsdl_addresses_the_server(writeback_hostile_factory: Hostile) -> None:
    server = writeback_hostile_factory({"GET": PageWsdl()})
    wsdl = requests.get(server.url + "/BC/WS/Page/Appointment", timeout=5).text
    assert f'location="{server.url}/BC/WS/Page/Appointment"' in wsdl


def test_a_trickle_sends_a_byte_at_a_time_until_the_client_leaves(
    writeback_hostile_factory: Hostile,
) -> None:
    server = writeback_hostile_factory({"*": Trickle(b"abcdef", interval=0.05)})
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        assert answer.status == 200 and answer.read(1) == b"a"
        answer.close()
    assert server.wait_abandoned(1) == 1


def test_a_flood_declares_more_than_it_sends_then_waits(
    writeback_hostile_factory: Hostile,
) -> None:
    server = writeback_hostile_factory({"*": Flood(500, declared=4 * MIB, sent=MIB)})
    answer = requests.get(server.url, stream=True, timeout=(5, 0.5))
    assert answer.headers["Content-Length"] == str(4 * MIB)
    read = 0
    with pytest.raises(requests.ConnectionError):  # a read times out: nothing more comes
        for chunk in answer.iter_content(64 * 1024):
            read += len(chunk)
    assert read == MIB
    answer.close()
    assert server.wait_abandoned(1) == 1


def test_over_https_with_the_test_ca(
    writeback_hostile_factory: Hostile, writeback_test_ca_bundle: Path
) -> None:
    server = writeback_hostile_factory({"*": Answer(200, b"secure")}, tls=True)
    assert server.url.startswith("https://127.0.0.1:")
    answer = requests.get(server.url, verify=str(writeback_test_ca_bundle), timeout=5)
    assert answer.text == "secure"
