"""Token endpoints get the formats' rules: the real CLI against loopback token
endpoints and Entra authorities that redirect, trickle or flood on purpose
(``writeback_hostile_factory``; an authority's discovery document from
``OpenIdConfiguration``).

- No token request follows a redirect: the client secret would go wherever the
  ``Location`` points, another host or plain ``http://``.  The attempt is
  ``failed`` (WB-312), naming where the endpoint pointed, masked.
- The connector's ``timeout`` bounds a token request as a whole: a trickling
  endpoint gets WB-314 (``retry``) instead of holding the attempt, or
  ``connectors test``, for as long as it trickles.
- At most 1 MiB of a token answer is read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from writeback_testing.hostile import (
    Answer,
    Flood,
    OpenIdConfiguration,
    PageWsdl,
    Redirect,
    Trickle,
    soap_create_result,
)

from .conftest import appointment_event, webhook_row

SECRET = "Tok3n-Secret+4711"
TOKEN = json.dumps({"access_token": "stolen-but-usable", "token_type": "Bearer"}).encode()
JSON = {"Content-Type": "application/json"}


def oauth2(token_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "method": "oauth2",
        "token_url": token_url,
        "client_id": "wb",
        "client_secret": SECRET,
        **extra,
    }


def entra(authority: str) -> dict[str, Any]:
    return {
        "method": "entra",
        "tenant_id": "contoso",
        "client_id": "app",
        "client_secret": SECRET,
        "scope": "api://hook/.default",
        "authority": authority,
    }


def hook(
    name: str, uri: str, auth: dict[str, Any], source_app: str = "CRONUSUS", **options: Any
) -> dict[str, Any]:
    row = webhook_row(name, uri, source_app, auth=auth) | {"retry": {"schedule": [0.2]}}
    return row | ({"options": options} if options else {})


def page(name: str, uri: str, auth: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "bc",
        "api_type": "soap",
        "uri": uri + "/BC/WS/Page/Appointment",
        "source_app": "CRONUSUS",
        "auth": auth,
        "retry": {"schedule": [0.2]},
        "coalesce": False,
        "options": {"allow_insecure_http": True, **options},
    }


def by_connector(cli: Any) -> dict[str, dict[str, Any]]:
    return {d["connector"]: d for d in cli("deliveries", "list", "--json").json()}


def history(cli: Any, delivery_id: str) -> list[dict[str, Any]]:
    return list(cli("deliveries", "show", delivery_id, "--json").json()["history"])


@pytest.fixture
def trusting_cli(cli: Any, writeback_test_ca_bundle: Any) -> Any:
    """The CLI trusting the test CA, which signs the hostile Entra authorities."""
    cli.env.update(
        SSL_CERT_FILE=str(writeback_test_ca_bundle),
        REQUESTS_CA_BUNDLE=str(writeback_test_ca_bundle),
    )
    return cli


def test_entra_sends_its_secret_to_no_redirect_target(
    trusting_cli: Any,
    writeback_hostile_factory: Any,
    writeback_entra_authority: Any,
    writeback_receiver: Any,
) -> None:
    cli = trusting_cli
    # Where a followed redirect would take the secret: plain http, or another
    # authority that would even grant a token for it.
    sink = writeback_hostile_factory({"*": Answer(200, TOKEN, JSON)})
    elsewhere = writeback_entra_authority
    elsewhere.register("app", SECRET)
    to_http = writeback_hostile_factory(
        {
            "GET": OpenIdConfiguration(),
            "POST": Redirect(f"http://thief:pw-77@127.0.0.1:{sink.port}/steal?code=abc"),
        },
        tls=True,
    )
    to_other_host = writeback_hostile_factory(
        {"GET": OpenIdConfiguration(), "POST": Redirect(elsewhere.token_url, 308)}, tls=True
    )
    rows = [
        hook("to-http", writeback_receiver.url, entra(to_http.url)),
        hook("to-other-host", writeback_receiver.url, entra(to_other_host.url)),
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    probe = cli("connectors", "test", "to-http", check=1)

    assert sink.requests == [] and elsewhere.token_requests == 0
    assert writeback_receiver.requests == []
    done = by_connector(cli)
    assert {d["status"] for d in done.values()} == {"dead"}
    assert {d["attempts"] for d in done.values()} == {1}  # failed, not retried
    assert done["to-http"]["last_error"].startswith(
        f"WB-312: the token endpoint 127.0.0.1:{to_http.port} answered HTTP 307: redirected to "
        f"http://127.0.0.1:{sink.port}/steal?… (redirects are not followed)"
    )
    assert (
        f"answered HTTP 308: redirected to {elsewhere.token_url} ("
        in (done["to-other-host"]["last_error"])
    )
    assert f"redirected to http://127.0.0.1:{sink.port}/steal?…" in probe.stdout + probe.stderr
    for text in cli.outputs:
        assert "pw-77" not in text and "code=abc" not in text and "thief" not in text
        assert SECRET not in text


def test_oauth2_names_where_its_token_endpoint_redirected(
    cli: Any, writeback_hostile_factory: Any, writeback_receiver: Any
) -> None:
    sink = writeback_hostile_factory({"*": Answer(200, TOKEN, JSON)})
    away = f"http://user:pw-88@127.0.0.1:{sink.port}/token?sig=abc"
    # One token endpoint per transport: the json format's httpx, the soap format's requests.
    over_httpx = writeback_hostile_factory({"POST": Redirect(away)})
    over_requests = writeback_hostile_factory({"POST": Redirect(away)})
    bc_page = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": Answer(200, soap_create_result())}
    )
    rows = [
        hook("json", writeback_receiver.url, oauth2(over_httpx.url + "/token")),
        page("soap", bc_page.url, oauth2(over_requests.url + "/token")),
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")

    assert sink.requests == [] and writeback_receiver.requests == [] and bc_page.requests == []
    done = by_connector(cli)
    for name, server in (("json", over_httpx), ("soap", over_requests)):
        assert done[name]["status"] == "dead" and done[name]["attempts"] == 1
        assert done[name]["last_error"].startswith(
            f"WB-312: the token endpoint 127.0.0.1:{server.port} answered HTTP 307: redirected "
            f"to http://127.0.0.1:{sink.port}/token?… (redirects are not followed); "
            "check auth.token_url"
        ), done[name]["last_error"]
    for text in cli.outputs:
        assert "pw-88" not in text and "sig=abc" not in text and SECRET not in text


def test_a_trickling_token_endpoint_is_cut_at_the_connectors_timeout(
    trusting_cli: Any, writeback_hostile_factory: Any, writeback_receiver: Any
) -> None:
    cli = trusting_cli
    # Each answer would take half a minute at a byte a second; the timeout is 2 s.
    trickle = Trickle(b" " * 30, headers=JSON)
    servers = {
        "soap-oauth2": writeback_hostile_factory({"POST": trickle}),
        "soap-entra": writeback_hostile_factory(
            {"GET": OpenIdConfiguration(), "POST": trickle}, tls=True
        ),
        "json-oauth2": writeback_hostile_factory({"POST": trickle}),
        "json-entra": writeback_hostile_factory(
            {"GET": OpenIdConfiguration(), "POST": trickle}, tls=True
        ),
    }
    bc_page = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": Answer(200, soap_create_result())}
    )
    auths = {
        name: oauth2(server.url + "/token") if name.endswith("oauth2") else entra(server.url)
        for name, server in servers.items()
    }
    rows = [
        page("soap-oauth2", bc_page.url, auths["soap-oauth2"], timeout=2),
        page("soap-entra", bc_page.url, auths["soap-entra"], timeout=2),
        # Tested with connectors test only: the json format's attempt deadline
        # already ends a delivery's wait for its token.
        hook("json-oauth2", writeback_receiver.url, auths["json-oauth2"], "PROBE", timeout=2),
        hook("json-entra", writeback_receiver.url, auths["json-entra"], "PROBE", timeout=2),
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    done = by_connector(cli)
    for name in ("soap-oauth2", "soap-entra"):
        port = servers[name].port
        attempts = history(cli, done[name]["id"])
        assert [a["outcome"] for a in attempts] == ["retry", "retry"], attempts
        for attempt in attempts:
            assert attempt["error"].startswith(
                f"WB-314: the token endpoint 127.0.0.1:{port} gave no complete answer within 2 s"
            ), attempt["error"]
    assert bc_page.requests == []
    # connectors test asks for a token before any request of the format.
    for name in ("json-oauth2", "json-entra"):
        probe = cli("connectors", "test", name, check=1)
        assert "WB-314" in probe.stdout + probe.stderr
        assert "gave no complete answer within 2 s" in probe.stdout + probe.stderr
    for server in servers.values():
        assert server.wait_abandoned(1) >= 1  # writeback hung up on the trickle
    assert writeback_receiver.requests == []


def test_only_a_bounded_prefix_of_a_token_answer_is_read(
    trusting_cli: Any, writeback_hostile_factory: Any, writeback_receiver: Any
) -> None:
    cli = trusting_cli
    # Each declares 100 MiB, sends 4, then stays silent: a client reading the
    # whole answer would wait until its timeout.
    servers = {
        "json-oauth2": writeback_hostile_factory(
            {"POST": Flood(200, content_type="application/json", filler=b" ")}
        ),
        "json-entra": writeback_hostile_factory(
            {"GET": OpenIdConfiguration(), "POST": Flood(503, filler=b"e")}, tls=True
        ),
        "soap-oauth2": writeback_hostile_factory({"POST": Flood(400, filler=b"e")}),
    }
    bc_page = writeback_hostile_factory(
        {"GET": PageWsdl(), "POST": Answer(200, soap_create_result())}
    )
    no_retry = {"retry": {"schedule": []}}
    rows = [
        hook("json-oauth2", writeback_receiver.url, oauth2(servers["json-oauth2"].url + "/t"))
        | {"options": {"timeout": 20}}
        | no_retry,
        hook("json-entra", writeback_receiver.url, entra(servers["json-entra"].url))
        | {"options": {"timeout": 20}}
        | no_retry,
        page("soap-oauth2", bc_page.url, oauth2(servers["soap-oauth2"].url + "/t"), timeout=20)
        | no_retry,
    ]
    cli("connectors", "add", cli.file(rows))
    cli("dispatch", cli.file(appointment_event("create", "G1")))
    cli("worker", "--until-idle")
    done = by_connector(cli)
    outcomes = {name: history(cli, done[name]["id"])[0] for name in servers}
    assert outcomes["json-oauth2"]["outcome"] == "failed"
    assert outcomes["json-oauth2"]["error"].startswith("WB-317: the token endpoint")
    assert outcomes["json-entra"]["outcome"] == "retry"
    assert outcomes["json-entra"]["error"].startswith("WB-313: the token endpoint")
    assert "HTTP 503" in outcomes["json-entra"]["error"]
    assert outcomes["soap-oauth2"]["outcome"] == "failed"
    assert outcomes["soap-oauth2"]["error"].startswith("WB-312: the token endpoint")
    assert "HTTP 400" in outcomes["soap-oauth2"]["error"]
    for outcome in outcomes.values():
        assert "longer than 1 MiB" in outcome["error"], outcome
    for server in servers.values():
        assert server.wait_abandoned(1) == 1  # writeback stopped reading and hung up
    assert writeback_receiver.requests == [] and bc_page.requests == []
